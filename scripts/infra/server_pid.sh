# Sourced by the server scripts: server_pid LAUNCHED PATTERN prints the pid of the server just started in the
# background with setsid ($! given as LAUNCHED). setsid forks when it is itself a process-group leader (a caller with
# job control puts each background job in its own group), and then $! is setsid's short-lived pid, not the server's:
# the server is found by its command line (pgrep -f PATTERN, an extended regex), falling back to LAUNCHED.
server_pid() {
  local launched=$1 pattern=$2 found
  for _ in $(seq 1 30); do
    if found=$(pgrep -n -f -- "$pattern"); then
      echo "$found"
      return 0
    fi
    sleep 0.1
  done
  echo "$launched"
}
