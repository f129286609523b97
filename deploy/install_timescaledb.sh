#!/usr/bin/env bash
# Give the installed PostgreSQL server the TimescaleDB extension, once; called by `make install`.
#
#   deploy/install_timescaledb.sh ARCHIVE_GLOB BUILD_DIR
#
# Paths, first that applies (exactly one line on stdout says which one was taken):
#   found    the server's share/extension already has timescaledb.control and lib/ its library
#   apt      Timescale's apt repository is configured: apt-get install timescaledb-2-postgresql-N
#   source   build the archive (ARCHIVE_GLOB, newest match) with Debian build dependencies pinned
#            to the installed server's version (`--no-upgrade`, so apt never touches the server);
#            the build tree is cached in BUILD_DIR with a stamp per archive checksum, so a second
#            run or a rebuilt .venv only re-runs `make install` of the cached build, if that
#   plain    none of them works: says why; the local stack then runs plain PostgreSQL
# Never fails `make install`: a failed path falls through to `plain` with its log's path.
# Non-interactive (DEBIAN_FRONTEND=noninteractive, apt -y); root or sudo for apt and install.
set -uo pipefail

archive_glob="${1:?archive glob}"
build_root="${2:?build dir}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive

postgres_bin="$(ls -d /usr/lib/postgresql/*/bin/postgres 2>/dev/null | sort -V | tail -n 1)"
if [ -z "$postgres_bin" ]; then
  echo "timescaledb: plain PostgreSQL (no PostgreSQL server under /usr/lib/postgresql)"
  exit 0
fi
major="$(basename "$(dirname "$(dirname "$postgres_bin")")")"
pg_config="/usr/lib/postgresql/$major/bin/pg_config"
share="/usr/share/postgresql/$major/extension"
lib="/usr/lib/postgresql/$major/lib"

installed_version() {
  local control="$share/timescaledb.control"
  [ -f "$control" ] && ls "$lib"/timescaledb-*.so >/dev/null 2>&1 || return 1
  sed -n "s/^default_version *= *'\(.*\)'.*/\1/p" "$control"
}

if version="$(installed_version)"; then
  echo "timescaledb: found $version for PostgreSQL $major ($share)"
  exit 0
fi

apt_package="timescaledb-2-postgresql-$major"
if apt-cache policy "$apt_package" 2>/dev/null | grep -q 'packagecloud.io/timescale\|timescale.com'; then
  log="$build_root/apt.log"
  mkdir -p "$build_root"
  if $sudo apt-get install -y -q --no-upgrade --no-install-recommends "$apt_package" >"$log" 2>&1 \
    && version="$(installed_version)"; then
    echo "timescaledb: installed $version for PostgreSQL $major from Timescale's apt repository"
    exit 0
  fi
  echo "timescaledb: apt-get install $apt_package failed (log $log); trying the source archive" >&2
fi

# shellcheck disable=SC2086  # the glob is meant to expand
archive="$(ls -d $archive_glob 2>/dev/null | sort -V | tail -n 1)"
if [ -z "$archive" ]; then
  echo "timescaledb: plain PostgreSQL (no Timescale apt repository and no source archive" \
    "matching $archive_glob; set TIMESCALEDB_ARCHIVE=... or see README 'TimescaleDB')"
  exit 0
fi

mkdir -p "$build_root"
log="$build_root/build.log"
checksum="$(sha256sum "$archive" | cut -c1-16)"
src="$build_root/src-$checksum"
stamp="$src/.built"

build() {
  local server_version
  server_version="$(dpkg-query -W -f='${Version}' "postgresql-$major" 2>/dev/null)" || {
    echo "postgresql-$major is not a Debian package here: cannot pin its dev headers" >&2
    return 1
  }
  local wanted=("postgresql-server-dev-$major=$server_version")
  local tool
  for tool in cmake gcc make; do command -v "$tool" >/dev/null 2>&1 || wanted+=("$tool"); done
  dpkg-query -W -f='${Status}' libssl-dev 2>/dev/null | grep -q 'ok installed' \
    || wanted+=(libssl-dev)
  if [ "$(dpkg-query -W -f='${Version}' "postgresql-server-dev-$major" 2>/dev/null)" \
    = "$server_version" ] && [ ${#wanted[@]} -eq 1 ]; then
    wanted=()
  fi
  if [ ${#wanted[@]} -gt 0 ]; then
    if ! apt-cache show "postgresql-server-dev-$major=$server_version" >/dev/null 2>&1; then
      $sudo apt-get update -q || return 1
    fi
    $sudo apt-get install -y -q --no-upgrade --no-install-recommends "${wanted[@]}" || return 1
  fi
  rm -rf "$src" && mkdir -p "$src"
  tar -xzf "$archive" -C "$src" --strip-components=1 || return 1
  (
    cd "$src" \
      && ./bootstrap -DPG_CONFIG="$pg_config" -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF \
        -DWARNINGS_AS_ERRORS=OFF -DGENERATE_DOWNGRADE_SCRIPT=OFF -DSEND_TELEMETRY_DEFAULT=OFF \
      && make -C build -j"$(nproc)"
  ) || return 1
  touch "$stamp"
}

how="cached build"
if [ ! -f "$stamp" ]; then
  how="built"
  start=$(date +%s)
  if ! build >"$log" 2>&1; then
    echo "timescaledb: plain PostgreSQL (building $archive failed, log $log)"
    exit 0
  fi
  how="built in $(($(date +%s) - start)) s"
fi
if ! $sudo make -C "$src/build" install >>"$log" 2>&1 || ! version="$(installed_version)"; then
  echo "timescaledb: plain PostgreSQL (installing the build of $archive failed, log $log)"
  exit 0
fi
echo "timescaledb: $version for PostgreSQL $major from $(basename "$archive") ($how, $src)"
