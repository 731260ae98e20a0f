"""Small RTSP server for tests, run with the system python (``/usr/bin/python3``, which has ``gi``).

Mounts: ``/test`` (live videotestsrc, H.264) and, with ``--file``, ``/clip`` (the file, looped forever).
TCP interleaved transport only, bound to 127.0.0.1. Prints ``READY <port>`` once listening; exits on
SIGTERM/SIGINT. Needs: python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-{base,good,bad,ugly}.
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

TEST_LAUNCH = (
    "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1 "
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! rtph264pay name=pay0 pt=96 )"
)


def _clip_launch(path: str) -> str:
    quoted = path.replace("\\", "\\\\").replace('"', '\\"')
    return (
        f'( filesrc location="{quoted}" ! qtdemux ! h264parse name=parse config-interval=-1 '
        "! rtph264pay name=pay0 pt=96 )"
    )


def _loop_forever(_factory: GstRtspServer.RTSPMediaFactory, media: GstRtspServer.RTSPMedia) -> None:
    # Dropping EOS keeps the RTSP session alive; only a FLUSH seek restarts qtdemux (segment or
    # non-flushing seeks do not), and it must run outside the streaming thread.
    element = media.get_element()
    parse = element.get_by_name("parse")
    if parse is None:
        return

    def seek_to_start() -> bool:
        pipeline = element
        while pipeline.get_parent() is not None:
            pipeline = pipeline.get_parent()
        pipeline.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT, 0)
        return False

    def on_event(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        event = info.get_event()
        if event is not None and event.type == Gst.EventType.EOS:
            GLib.idle_add(seek_to_start)
            return Gst.PadProbeReturn.DROP
        return Gst.PadProbeReturn.OK

    parse.get_static_pad("src").add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, on_event)


def _factory(
    launch: str, permissions: GstRtspServer.RTSPPermissions | None
) -> GstRtspServer.RTSPMediaFactory:
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(True)
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
    if permissions is not None:
        factory.set_permissions(permissions)
    return factory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--file", help="H.264 MP4 served looped at /clip")
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))

    permissions = None
    if args.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password or ""), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role("user", "media.factory.access", True)
        permissions.add_permission_for_role("user", "media.factory.construct", True)

    mounts = server.get_mount_points()
    mounts.add_factory("/test", _factory(TEST_LAUNCH, permissions))
    if args.file:
        clip = _factory(_clip_launch(args.file), permissions)
        clip.connect("media-configure", _loop_forever)
        mounts.add_factory("/clip", clip)

    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
        return 1
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print(f"READY {server.get_bound_port()}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
