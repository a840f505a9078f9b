#!/bin/sh
# Test double for a BOINC project's bin/start: records the call, starts nothing.
echo "start $*" >> "$(dirname "$0")/../double_calls.log"
