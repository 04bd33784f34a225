"""A reset is the student's way back, whatever they did to the lab: it yields a world that
answers DNS and HTTP or says why, and two resets at once end as one of them, never a mix."""

from __future__ import annotations

import subprocess

import pytest

from labkit import TUTOR, run_ok, wait_until
from tutor.lab import client, lifecycle
from tutor.lab.world import LAB_HOSTNAME

pytestmark = pytest.mark.lab

WORLD_WORKS = "dig +short +time=2 +tries=1 @8.8.8.8 www.naver.com && curl -s -o /dev/null -w '%{http_code}' -m 5 http://www.naver.com/"

TAMPERING = [
    # the world's nodes swapped for namespaces of the student's
    "ip netns add fake; mount --bind /run/netns/fake /run/tutor/world/internet; "
    "mount --bind /run/netns/fake /run/tutor/world/lan",
    # the spare, built ahead for the next reset, swapped the same way
    "ip netns add fake; for n in internet lan; do mount --bind /run/netns/fake /run/tutor/spare/$n; done",
    # the agent's whole folder covered, and /proc with it
    "mount -t tmpfs x /run/tutor; umount -l /proc; mount -t tmpfs y /proc",
    # the world's files removed
    "umount -l /run/tutor/world/internet /run/tutor/spare/internet; rm -f /run/tutor/world/* /run/tutor/spare/*",
]


@pytest.mark.parametrize("tamper", TAMPERING, ids=["world", "spare", "covered", "removed"])
def test_a_reset_after_tampering_brings_the_world_back(mode, mlab, tamper):
    assert wait_until(lambda: "internet" in run_ok("ls /run/tutor/spare", mlab), timeout=20)
    client.run(tamper, info=mlab, timeout=10)
    lifecycle.reset()
    out = run_ok(WORLD_WORKS, mlab)
    assert out.split() == ["203.0.113.10", "302"], out
    assert run_ok("internet ip -br addr show eth0", mlab).split()[2] == "172.17.0.1/16"
    # and again, with the spare the agent builds next
    assert wait_until(lambda: "internet" in run_ok("ls /run/tutor/spare", mlab), timeout=20)
    lifecycle.reset()
    assert run_ok(WORLD_WORKS, mlab).split() == ["203.0.113.10", "302"]


def _state(info) -> str:
    """What a lesson's start is made of, without what differs between two builds (MACs, ids)."""
    return run_ok("ip netns | cut -d' ' -f1; ip -br link | cut -d' ' -f1 | sort; "
                  "ip -br -4 addr | sort; iptables-save | grep -v '^[#:]' || true", info)


def test_resets_at_once_end_as_one_of_them(lab):
    """Finding: resets from two TUIs and the CLI at once all reported success with a mixed
    end state. Each reset now holds the lab's reset lock for its reset and its commands."""
    references = {}
    for lesson in ("lesson2", "lesson4"):
        subprocess.run([TUTOR, "reset", lesson], check=True, capture_output=True, timeout=60)
        references[lesson] = _state(lab)
    assert references["lesson2"] != references["lesson4"]
    for _ in range(3):
        procs = [subprocess.Popen([TUTOR, "reset", lesson], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
                 for lesson in ("lesson2", "lesson4", "lesson2", "lesson4")]
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
        assert _state(lab) in references.values()


def _reset_running(lab_name: str) -> bool:
    """Does a reset hold lab `lab_name`'s reset lock right now?"""
    import fcntl
    import os

    from tutor.lab import door
    try:
        fd = os.open(f"{door.folder()}/{lab_name}.reset", os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


@pytest.mark.parametrize("command", [["solve", "lesson3"], ["reset", "lesson5"]])
def test_a_lab_that_dies_under_a_command_is_one_sentence(lab, lab_name, command):
    """Finding 9: after the agent died mid-`solve`, every remaining command printed
    `nsenter: cannot open /proc/N/ns/ipc` and solve exited 1; killed mid-reset said
    "the command `?` failed". Now: one sentence that the lab is not running, exit 2."""
    proc = subprocess.Popen([TUTOR, *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        if command[0] == "solve":
            assert proc.stdout is not None and proc.stdout.readline().startswith("# step 1")
        else:
            assert wait_until(lambda: _reset_running(lab_name) or proc.poll() is not None)
        lifecycle.kill(lab_name)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode == 0 and command[0] == "reset":
        pytest.skip("the reset finished before the lab could be killed")
    assert proc.returncode == 2, out + err
    assert err.count("\n") == 1 and "is not running" in err, err
    assert "nsenter" not in out + err and "`?`" not in err



ETC_TAMPERING = [
    # a great many files, and links out of /etc, in what the lab wrote
    "mkdir -p /etc/many && cd /etc/many && seq 1 5000 | xargs touch && ln -s / /etc/root-link "
    "&& ln -s /tmp /etc/many/tmp-link && echo student > /etc/extra && touch /tmp/kept",
    # each layer's own tmpfs dropped and its path made a link to /tmp, where the next tmpfs
    # must not land
    "touch /tmp/kept; echo student > /etc/extra; umount -l /etc /var/lib/cni /var/lib; "
    "umount -l /run/tutor/etc-layer /run/tutor/var-lib-layer; rm -rf /run/tutor/etc-layer "
    "/run/tutor/var-lib-layer; ln -s /tmp /run/tutor/etc-layer; ln -s /tmp /run/tutor/var-lib-layer",
]


@pytest.mark.parametrize("tamper", ETC_TAMPERING, ids=["many-files-and-links", "layer-replaced"])
def test_a_reset_drops_what_the_lab_wrote_to_etc_whatever_it_was(lab, tamper):
    """What the lab writes to /etc and /var/lib lives on a tmpfs of its own under each
    overlay; a reset unmounts it whole (tutor.lab.sandbox._new_layer), walking nothing the lab
    made, and the fresh one lands at the layer's path, never where a link there points."""
    lifecycle.reset()
    client.run(tamper, info=lab, timeout=30)
    lifecycle.reset()
    gone = run_ok("for f in /etc/many /etc/root-link /etc/extra; do [ -e $f ] || [ -L $f ] || echo $f; done", lab)
    assert gone.split() == ["/etc/many", "/etc/root-link", "/etc/extra"], gone
    assert run_ok("cat /etc/hostname", lab).strip() == LAB_HOSTNAME
    assert run_ok("ls -A /tmp", lab).split() == ["kept"]   # no tmpfs over /tmp
    assert run_ok("stat -c %F /run/tutor/etc-layer /run/tutor/var-lib-layer", lab).splitlines() == \
        ["directory", "directory"]
    assert run_ok("touch /etc/new /var/lib/new && echo ok", lab).strip() == "ok"
    run_ok("rm -f /tmp/kept", lab)


def test_a_link_at_a_layers_path_is_never_followed_by_the_reset(lab):
    """The lab leaves a link to a world machine's namespace file (a mount point) where /etc's
    layer was: the reset removes the link; it neither unmounts the machine nor mounts over it."""
    lifecycle.reset()
    client.run("umount -l /etc; umount -l /run/tutor/etc-layer; rm -rf /run/tutor/etc-layer; "
               "ln -s /run/tutor/world/internet /run/tutor/etc-layer", info=lab, timeout=30)
    lifecycle.reset()
    assert run_ok("internet ip -br addr show eth0", lab).split()[2] == "172.17.0.1/16"
    assert run_ok("cat /etc/hostname", lab).strip() == LAB_HOSTNAME
    assert run_ok("stat -c %F /run/tutor/etc-layer", lab).strip() == "directory"
