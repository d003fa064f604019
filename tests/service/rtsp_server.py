"""A real RTSP server on loopback for the stream tests: GStreamer's RTSP server (Debian's
gir1.2-gst-rtsp-server-1.0, through python3-gi), serving JPEG frames over RTP as a camera
would, paced in real time.

Run by the system Python (where ``gi`` lives, not in the project's venv):
``python3 rtsp_server.py PORT FPS FRAME.jpg...`` serves ``rtsp://127.0.0.1:PORT/cam`` and prints
``ready`` once it listens. The frames loop for as long as it runs; killing it is a camera that
drops off the network.
"""

from __future__ import annotations

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    """Serve the frames until killed."""
    port, fps, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    frames = [open(path, "rb").read() for path in paths]  # noqa: SIM115
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    # A live source stamped as it is pushed, so the client sees a camera's pace.
    factory.set_launch(f"( appsrc name=src is-live=true do-timestamp=true format=time "
                       f"caps=image/jpeg,framerate={fps}/1 ! jpegparse ! rtpjpegpay name=pay0 "
                       f"pt=26 )")
    factory.set_shared(True)
    sent = [0]

    def configure(_factory: object, media: GstRtspServer.RTSPMedia) -> None:
        source = media.get_element().get_by_name("src")

        def push() -> bool:
            data = frames[sent[0] % len(frames)]
            sent[0] += 1
            return bool(source.emit("push-buffer", Gst.Buffer.new_wrapped(data))
                        == Gst.FlowReturn.OK)

        GLib.timeout_add(1000 // fps, push)

    factory.connect("media-configure", configure)
    server.get_mount_points().add_factory("/cam", factory)
    server.attach(None)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
