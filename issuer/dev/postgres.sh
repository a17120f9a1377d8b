#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on loopback for the tests and benchmarks, and prints its URL.
#
#   issuer/dev/postgres.sh            print postgres://... on stdout (diagnostics go to stderr)
#   POSTGRES_LOCAL=1 issuer/dev/postgres.sh   always use (and start) the project-local cluster
#
# In order: a server already answering on 127.0.0.1:5432 as user `postgres` (trust) with a database
# `test` is used as is (this is how CI machines come). Otherwise PostgreSQL is installed with apt when
# its binaries are missing, and a project-local cluster is created under .postgres/ (initdb, trust auth
# on loopback only, user `postgres`, database `test`) and started on 5432, or on 54329 if 5432 is taken.
# Nothing outside the repository is reconfigured. `pg_ctl -D .postgres/data stop` stops it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
say() { echo "postgres: $*" >&2; }

answers() { # port
  command -v psql >/dev/null && psql "postgres://postgres@127.0.0.1:$1/test" -Atqc 'select 1' >/dev/null 2>&1
}

# POSTGRES_LOCAL=1 skips the shared server (to try the local-cluster path).
if [[ -z ${POSTGRES_LOCAL:-} ]] && answers 5432; then
  say "using the server on 127.0.0.1:5432"
  echo "postgres://postgres@127.0.0.1:5432/test"
  exit 0
fi

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [[ -z $bindir || ! -x $bindir/initdb ]] || ! command -v psql >/dev/null; then
  say "installing PostgreSQL with apt"
  if [[ $(id -u) = 0 ]]; then sudo=; elif command -v sudo >/dev/null; then sudo=sudo; else
    say "need root to apt-get install postgresql"; exit 1; fi
  $sudo apt-get update -qq >&2
  # policy-rc.d keeps the package from starting (and reconfiguring) the system cluster: we run our own.
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    postgresql postgresql-client >&2
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

# The system cluster may be installed but stopped: prefer starting it only if it already trusts us.
if [[ -z ${POSTGRES_LOCAL:-} ]] && command -v pg_ctlcluster >/dev/null && [[ $(id -u) = 0 ]]; then
  for cluster in $(pg_lsclusters -h 2>/dev/null | awk '$3 == 5432 && $4 != "online" {print $1 "/" $2}'); do
    say "starting the system cluster $cluster"
    pg_ctlcluster "${cluster%/*}" "${cluster#*/}" start >&2 || true
  done
  if answers 5432; then echo "postgres://postgres@127.0.0.1:5432/test"; exit 0; fi
fi

# A cluster of our own. PostgreSQL refuses to run as root: as root, it runs as the `postgres` user.
data=$root/.postgres/data
run=()
if [[ $(id -u) = 0 ]]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
  run=(runuser -u postgres --)
fi
mkdir -p "$root/.postgres"
if [[ $(id -u) = 0 ]]; then chown postgres "$root/.postgres"; fi
if [[ ! -f $data/PG_VERSION ]]; then
  say "creating a local cluster in $data"
  "${run[@]}" "$bindir/initdb" -D "$data" -U postgres -A trust --no-sync >&2
fi
port=5432
if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then port=54329; fi
if ! answers "$port"; then
  say "starting the local cluster on 127.0.0.1:$port"
  "${run[@]}" "$bindir/pg_ctl" -D "$data" -l "$root/.postgres/log" -w \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$root/.postgres" start >&2
  "${run[@]}" "$bindir/psql" "postgres://postgres@127.0.0.1:$port/postgres" -Atqc \
    "select 1 from pg_database where datname = 'test'" | grep -q 1 ||
    "${run[@]}" "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres test >&2
fi
echo "postgres://postgres@127.0.0.1:$port/test"
