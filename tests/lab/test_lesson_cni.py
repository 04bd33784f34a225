"""The `cni` lesson: the real CNI plugins in the lab. Its common mistakes, made by hand on top of
the lesson's own commands, get a hint that names the fix; a reset takes away everything the
plugins made (pod1, cni0, the CNI-… chains, host-local's leases); where the plugins are missing,
the reset says so in one sentence."""

from __future__ import annotations

import pytest
from lessonkit import assert_hint, build, step

from tutor.lab import client, tools
from tutor.lessons.course import CourseError, reset_lesson, selftest
from tutor.lessons.lesson import BUILTIN_LESSONS, find_lesson

pytestmark = pytest.mark.lab

CONF = "/etc/cni/net.d/10-mynet.conf"


def plugin(command: str, pod: str, ifname: str = "eth0", conf: str = CONF, name: str = "bridge") -> str:
    """A CNI plugin run the way the lesson (and a runtime) runs it."""
    return (f"CNI_COMMAND={command} CNI_CONTAINERID={pod} CNI_NETNS=/run/netns/{pod} CNI_IFNAME={ifname} "
            f"CNI_PATH=/usr/lib/cni /usr/lib/cni/{name} < {conf} >/dev/null")


def config(**drop: bool) -> str:
    """The lesson's network configuration, without the keys named in `drop`."""
    ipam = '"ipam": {"type": "host-local", "subnet": "10.22.0.0/16"' + (
        "" if drop.get("routes") else ', "routes": [{"dst": "0.0.0.0/0"}]') + "}"
    masq = "" if drop.get("ipMasq") else '"ipMasq": true, '
    return (f"""echo '{{"cniVersion": "1.0.0", "name": "mynet", "type": "bridge", "bridge": "cni0", """
            f""""isGateway": true, {masq}{ipam}}}' > {CONF}""")


def run(info, command: str) -> str:
    result = client.run(command, info=info)
    assert result.returncode == 0, f"{command}: {result.stderr}"
    return result.stdout


def test_a_configuration_without_routes_leaves_pod1_without_a_default_route(lab):
    lesson = build(lab, "cni", 1, config(routes=True), plugin("ADD", "pod1"))
    assert_hint(step(lab, lesson, 2), "route default via 10.22.0.1 in pod1", "pod1 has no default route",
                "ip -n pod1 route add default via 10.22.0.1")


def test_a_configuration_without_ipmasq_leaves_no_masquerade(lab):
    lesson = build(lab, "cni", 1, config(ipMasq=True), plugin("ADD", "pod1"))
    assert_hint(step(lab, lesson, 2), "masquerade 10.22.0.0/16",
                "the nat table's POSTROUTING chain has no MASQUERADE rule",
                "iptables -t nat -A POSTROUTING -s 10.22.0.0/16 ! -o cni0 -j MASQUERADE")


def test_the_loopback_plugin_forgotten(lab):
    lesson = build(lab, "cni", 2)
    assert_hint(step(lab, lesson, 3), "link lo in pod1 up", "lo in pod1 is DOWN",
                "Bring it up: ip -n pod1 link set dev lo up")


def test_del_forgotten_leaves_the_second_pods_cable(lab):
    lesson = build(lab, "cni", 3, "ip netns add pod2", plugin("ADD", "pod2"))
    result = step(lab, lesson, 4)
    assert_hint(result, "no veth in pod2", "eth0 in pod2 is still there (its other end is veth",
                "Take the cable away: ip -n pod2 link del eth0 deletes both ends "
                "(a CNI plugin does it when run with CNI_COMMAND=DEL)")
    run(lab, plugin("DEL", "pod2"))
    assert step(lab, lesson, 4).passed
    assert run(lab, "ls /var/lib/cni/networks/mynet").split() == ["10.22.0.2", "last_reserved_ip.0", "lock"]
    assert "10.22.0.3" not in run(lab, "iptables-save -t nat")


def test_reset_takes_away_everything_the_plugins_made(lab):
    lesson = build(lab, "cni", 4)
    assert "CNI-" in run(lab, "iptables-save -t nat")
    reset_lesson(lesson, lab)
    assert run(lab, "ip netns") == ""
    assert "cni0" not in run(lab, "ip -o link")
    assert "CNI-" not in run(lab, "iptables-save -t nat")
    assert run(lab, "ls -A /var/lib/cni; ls -A /etc/cni/net.d 2>/dev/null || true") == ""
    # and the lesson runs again from the start: pod1 gets 10.22.0.2 once more
    lesson = build(lab, "cni", 2)
    assert step(lab, lesson, 2).passed


def test_where_the_plugins_are_missing_reset_and_selftest_say_so(monkeypatch, lab_name):
    monkeypatch.setitem(tools.FOR_LESSON, "/nonexistent/cni/bridge", "cni")
    monkeypatch.setitem(tools.TOOLS, "/nonexistent/cni/bridge", "containernetworking-plugins")
    with pytest.raises(CourseError, match=r"^lesson cni needs /nonexistent/cni/bridge, which this machine does "
                                          r"not have: install it with `sudo apt-get install -y "
                                          r"containernetworking-plugins`$"):
        reset_lesson(find_lesson("cni", BUILTIN_LESSONS))
    with pytest.raises(CourseError, match=r"^lesson cni needs /nonexistent/cni/bridge, "):
        selftest([find_lesson("cni", BUILTIN_LESSONS)])
