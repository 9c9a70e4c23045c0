# Shared by load.sh and soak.sh (sourced, not run).

ensure_wrk() {
  if ! command -v wrk >/dev/null; then
    echo "installing wrk (Debian package)..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk) >/dev/null
  fi
}

# Writes a 4 KB body and a wrk script that POSTs it into folder $1.
make_post_script() {
  head -c 4096 /dev/zero | tr '\0' 'x' > "$1/body"
  cat > "$1/post.lua" <<LUA
wrk.method = "POST"
wrk.body = io.open("$1/body"):read("*a")
wrk.headers["Content-Type"] = "application/octet-stream"
LUA
}

wait_for_server() { # port
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$1/_alloc" >/dev/null && return 0; sleep 0.1; done
  echo "server on port $1 did not start" >&2
  return 1
}
