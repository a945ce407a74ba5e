#!/usr/bin/env bash
# Fetches the Java consumer's jars from Maven Central (once, kept in libs/ like the broker's)
# and compiles it (when its source changed). Prints the classpath to run it with.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
libs=$here/libs
classes=$here/classes
if [ ! -f "$libs/.complete" ]; then
  rm -rf "$libs"
  mvn -q -B --no-transfer-progress -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$libs" -DincludeScope=runtime >&2
  touch "$libs/.complete"
fi
source=$here/src/ConfigledgerConsumer.java
if [ ! -f "$classes/ConfigledgerConsumer.class" ] || [ "$source" -nt "$classes/ConfigledgerConsumer.class" ]; then
  mkdir -p "$classes"
  javac -proc:none -encoding UTF-8 -cp "$libs/*" -d "$classes" "$source" >&2
fi
echo "$classes:$libs/*"
