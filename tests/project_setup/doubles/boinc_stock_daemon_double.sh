#!/bin/sh
# Test double for BOINC's own daemons (feeder, transitioner, file_deleter),
# which need a BOINC server build that Debian 12 does not package. Like them it
# runs until bin/stop: it ends on SIGHUP, or within a second of the project's
# stop_daemons file appearing (its cwd is tmp_HOST/, one level below).
while [ ! -e ../stop_daemons ]; do sleep 1; done
