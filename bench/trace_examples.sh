#!/usr/bin/env bash
# Real `tutor trace` output for the routing lesson, lessons 3, 4, 5 and docker, finished and then with their NAT rules taken
# away, as docs/trace.md shows it: bash bench/trace_examples.sh > docs/trace.md (as root or not;
# it uses its own lab, TUTOR_LAB=trace-examples, and stops it at the end).
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export TUTOR_LAB=trace-examples
tutor() { bin/tutor "$@"; }
trap 'tutor lab down >/dev/null' EXIT
show() {   # show 'title' 'check'
  echo; echo "### $1"; echo; echo '```'; echo "\$ tutor trace '$2'"
  tutor trace "$2"; echo "[exit $?]"; echo '```'
}
echo "# \`tutor trace\`: real output"
echo
echo "Made by \`bash bench/trace_examples.sh > docs/trace.md\` on $(date -u +%Y-%m-%d) (kernel $(uname -r))."
echo "Each lesson is solved with \`tutor solve\`, traced, then one rule is taken away and traced again."
tutor reset routing >/dev/null; tutor solve routing >/dev/null
echo; echo "## Routing: a namespace as the router"
show "finished" "ping 192.168.2.10 from host1"
tutor shell -c 'ip netns exec router sysctl -qw net.ipv4.ip_forward=0'
show "the router does not forward" "ping 192.168.2.10 from host1"
tutor reset lesson3 >/dev/null; tutor solve lesson3 >/dev/null
echo; echo "## Lesson 3: containers behind the host"
show "finished" "ping 8.8.8.8 from container10"
tutor shell -c 'iptables -t nat -F POSTROUTING'
show "without MASQUERADE (iptables -t nat -F POSTROUTING)" "ping 8.8.8.8 from container10"
tutor shell -c 'iptables -t nat -A POSTROUTING -s 10.201.0.0/24 ! -o br0 -j MASQUERADE; iptables -D FORWARD -i br0 -o eth0 -j ACCEPT'
show "FORWARD's DROP policy with no way out (the ACCEPT rule deleted)" "fetch http://www.naver.com/ from container10"
tutor reset lesson4 >/dev/null; tutor solve lesson4 >/dev/null
echo; echo "## Lesson 4: the LAN"
show "finished" "ping 192.168.1.3 from blue"
tutor shell -c 'iptables -t nat -F POSTROUTING'
show "without MASQUERADE" "ping 192.168.1.3 from blue"
tutor reset lesson5 >/dev/null; tutor solve lesson5 >/dev/null
echo; echo "## Lesson 5: a port published the way Docker does"
show "finished: from the LAN" "fetch http://192.168.1.2:8080/ from node lan"
show "finished: from the host itself (nat OUTPUT)" "fetch http://192.168.1.2:8080/ from host"
tutor shell -c 'iptables -t nat -F DOCKER'
show "without the DNAT rule (iptables -t nat -F DOCKER)" "fetch http://192.168.1.2:8080/ from node lan"
tutor reset docker >/dev/null; tutor solve docker >/dev/null
echo; echo "## Lesson docker: -p 8080:80 through Docker's chains"
show "finished: from the LAN" "fetch http://192.168.1.2:8080/ from node lan"
tutor shell -c 'iptables -D DOCKER 1'
show "without the filter DOCKER chain's ACCEPT (iptables -D DOCKER 1)" "fetch http://192.168.1.2:8080/ from node lan"
