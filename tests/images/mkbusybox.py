#!/usr/bin/env python3
"""Build the busybox test image from Debian's busybox-static, with no download.

Writes a docker-save tar (legacy layout: manifest.json, repositories,
<config>.json, <layer>/layer.tar) that both `berth load` and `docker load` read.
The output is byte-for-byte reproducible: fixed mtimes, owners and ordering, so
the image ID is the same on every machine with the same busybox binary.

usage: mkbusybox.py OUTPUT.tar [--tag busybox:latest] [--busybox /bin/busybox]
"""
import argparse
import hashlib
import io
import json
import os
import subprocess
import tarfile

EPOCH = 1700000000  # fixed mtime for reproducible layers
CREATED = "2023-11-14T22:13:20Z"

PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""

GROUP = """root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nogroup:x:65534:
"""

DIRS = [
    ("bin", 0o755), ("dev", 0o755), ("etc", 0o755), ("home", 0o755),
    ("proc", 0o755), ("root", 0o700), ("sys", 0o755), ("tmp", 0o1777),
    ("usr", 0o755), ("usr/sbin", 0o755), ("var", 0o755), ("var/spool", 0o755),
    ("var/spool/mail", 0o755), ("var/www", 0o755),
]


def info(name, kind=tarfile.REGTYPE, mode=0o644, size=0, linkname=""):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.size = size
    ti.mtime = EPOCH
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    ti.linkname = linkname
    return ti


def add_bytes(tar, name, data, mode=0o644):
    tar.addfile(info(name, mode=mode, size=len(data)), io.BytesIO(data))


def build_layer(busybox_path):
    applets = subprocess.run([busybox_path, "--list"], check=True,
                             capture_output=True, text=True).stdout.split()
    with open(busybox_path, "rb") as f:
        busybox = f.read()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, mode in DIRS:
            tar.addfile(info(name + "/", tarfile.DIRTYPE, mode))
        add_bytes(tar, "bin/busybox", busybox, 0o755)
        for applet in sorted(set(applets)):
            if applet == "busybox":
                continue
            # hard links keep the layer small and match the upstream busybox image
            tar.addfile(info("bin/" + applet, tarfile.LNKTYPE, 0o755, linkname="bin/busybox"))
        add_bytes(tar, "etc/passwd", PASSWD.encode())
        add_bytes(tar, "etc/group", GROUP.encode())
        add_bytes(tar, "etc/shadow", b"root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n", 0o640)
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("output")
    ap.add_argument("--tag", default="busybox:latest")
    ap.add_argument("--busybox", default="/bin/busybox")
    args = ap.parse_args()

    layer = build_layer(args.busybox)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": CREATED,
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["sh"],
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [
            {"created": CREATED, "created_by": "mkbusybox.py: busybox-static rootfs"},
            {"created": CREATED, "created_by": 'CMD ["sh"]', "empty_layer": True},
        ],
    }
    config_bytes = json.dumps(config, separators=(",", ":"), sort_keys=True).encode()
    config_hex = hashlib.sha256(config_bytes).hexdigest()
    layer_dir = diff_id.split(":")[1]
    repo, tag = args.tag.rsplit(":", 1) if ":" in args.tag.split("/")[-1] else (args.tag, "latest")

    manifest = [{
        "Config": config_hex + ".json",
        "RepoTags": [f"{repo}:{tag}"],
        "Layers": [layer_dir + "/layer.tar"],
    }]
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with tarfile.open(args.output, "w", format=tarfile.USTAR_FORMAT) as out:
        out.addfile(info(layer_dir + "/", tarfile.DIRTYPE, 0o755))
        add_bytes(out, layer_dir + "/VERSION", b"1.0")
        add_bytes(out, layer_dir + "/layer.tar", layer)
        add_bytes(out, layer_dir + "/json", json.dumps({"id": layer_dir}).encode())
        add_bytes(out, config_hex + ".json", config_bytes)
        add_bytes(out, "manifest.json", json.dumps(manifest).encode())
        add_bytes(out, "repositories", json.dumps({repo: {tag: layer_dir}}).encode())
    print("sha256:" + config_hex)


if __name__ == "__main__":
    main()
