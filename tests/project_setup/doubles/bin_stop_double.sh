#!/bin/sh
# Test double for a BOINC project's bin/stop: records the call, stops nothing.
echo "stop $*" >> "$(dirname "$0")/../double_calls.log"
