"""A real RTSP server on loopback for the camera tests: Debian's gst-rtsp-server through
python3-gi (run with /usr/bin/python3, not the venv), serving an H.264 MP4 file (H.265
when its name ends in -h265.mp4), optionally behind basic auth. Usage: rtsp_server.py PORT FILE [USER PASS]"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

Gst.init(None)
port, path = sys.argv[1], sys.argv[2]
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
codec = "h265" if path.endswith("-h265.mp4") else "h264"
factory.set_launch(f"( filesrc location={path} ! qtdemux ! {codec}parse ! rtp{codec}pay name=pay0 pt=96 config-interval=1 )")
factory.set_shared(True)
if len(sys.argv) == 5:
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(sys.argv[3], sys.argv[4]), token)
    server.set_auth(auth)
    permissions = GstRtspServer.RTSPPermissions()
    permissions.add_permission_for_role("user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
    permissions.add_permission_for_role("user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
    factory.set_permissions(permissions)
server.get_mount_points().add_factory("/cam", factory)
server.attach(None)
print("ready", flush=True)
GLib.MainLoop().run()
