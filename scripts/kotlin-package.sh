#!/usr/bin/env bash
# Package the Kotlin bindings as a jar that carries the native library
# (bindings/kotlin: `mvn install`, which also runs its tests against the
# build directory), then build and test bindings/kotlin-consumer, which
# depends on that jar by coordinates only and loads the library from it.
#
#   bash scripts/kotlin-package.sh           # library from target/debug
#   ITC_NATIVE_DIR=$PWD/target/release bash scripts/kotlin-package.sh
#
# Needs a JDK 17+, Maven and access to Maven Central. The jar goes into the
# local Maven repository (~/.m2, or -Dmaven.repo.local through MAVEN_ARGS).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
for tool in mvn java unzip; do
    command -v "$tool" >/dev/null 2>&1 || { echo "kotlin-package: $tool not found" >&2; exit 2; }
done
target_dir="${CARGO_TARGET_DIR:-$root/target}"
native_dir="${ITC_NATIVE_DIR:-$target_dir/debug}"
if [ -z "${ITC_NATIVE_DIR:-}" ]; then
    cargo build -p itc-ffi
fi
[ -f "$native_dir/libitc_ffi.so" ] || [ -f "$native_dir/libitc_ffi.dylib" ] \
    || { echo "kotlin-package: no libitc_ffi in $native_dir" >&2; exit 1; }

# shellcheck disable=SC2086
mvn -q -B ${MAVEN_ARGS:-} -f bindings/kotlin/pom.xml install -Djna.library.path="$native_dir"

evaluate() {
    # shellcheck disable=SC2086
    mvn -q -B -Dstyle.color=never ${MAVEN_ARGS:-} -f bindings/kotlin/pom.xml help:evaluate \
        -Dexpression="$1" -DforceStdout | sed 's/\x1b\[[0-9;]*m//g'
}
version="$(evaluate project.version)"
repo="$(evaluate settings.localRepository)"
jar="$repo/dev/itc/itc-kotlin/$version/itc-kotlin-$version.jar"
[ -f "$jar" ] || { echo "kotlin-package: $jar was not installed" >&2; exit 1; }
echo "kotlin-package: installed $jar; native libraries in it:"
unzip -l "$jar" | grep -E '(lib)?itc_ffi\.(so|dylib|dll)$' || { echo "kotlin-package: $jar carries no native library" >&2; exit 1; }

# The consumer resolves dev.itc:itc-kotlin from the local repository; nothing
# points JNA at the build directory.
# shellcheck disable=SC2086
env -u LD_LIBRARY_PATH -u DYLD_LIBRARY_PATH \
    mvn -B ${MAVEN_ARGS:-} -f bindings/kotlin-consumer/pom.xml test -Ditc.version="$version"
echo "kotlin-package: ok"
