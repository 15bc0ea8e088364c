#!/bin/sh
# The stand-in base image's entrypoint, with the real image's contract: the one argument (the image's CMD)
# names the handler. Inside Lambda (AWS_LAMBDA_RUNTIME_API set) the runtime runs directly; anywhere else it
# runs behind the runtime interface emulator, which serves Lambda's invoke endpoint on port 8080.
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" >&2
  exit 142
fi
export _HANDLER="$1"
RUNTIME_ENTRYPOINT=/var/runtime/bootstrap
if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
  exec /usr/local/bin/aws-lambda-rie "$RUNTIME_ENTRYPOINT"
fi
exec "$RUNTIME_ENTRYPOINT"
