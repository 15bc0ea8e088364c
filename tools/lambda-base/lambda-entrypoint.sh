#!/bin/sh
# Stand-in for the Lambda base image's entrypoint: run the handler named by CMD once.
if [ $# -lt 1 ]; then
  echo "usage: lambda-entrypoint.sh <module.function>  (set CMD in the Dockerfile)" >&2
  exit 2
fi
exec python3 /var/runtime/invoke.py "$1"
