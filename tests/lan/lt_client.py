#!/usr/bin/python3
"""A libtorrent (Rasterbar, Debian's python3-libtorrent) client for tests/lan.rs.

Usage: lt_client.py TORRENT SAVE_DIR LISTEN_IP PORT

Downloads TORRENT into SAVE_DIR listening only on LISTEN_IP:PORT, then keeps seeding until
killed. Prints one status line a second and every tracker alert, for the test's log.
Run it with /usr/bin/python3: Debian's libtorrent module is built for the system Python only.
"""
import sys
import time

import libtorrent as lt

torrent, save_dir, ip, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
session = lt.session({
    # One listen socket, so the client announces once, from its namespace address.
    "listen_interfaces": f"{ip}:{port}",
    "enable_dht": False,
    "enable_lsd": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    "alert_mask": lt.alert.category_t.error_notification
    | lt.alert.category_t.status_notification
    | lt.alert.category_t.tracker_notification,
})
handle = session.add_torrent({"ti": lt.torrent_info(torrent), "save_path": save_dir})
while True:
    for alert in session.pop_alerts():
        print(f"alert {type(alert).__name__}: {alert.message()}", flush=True)
    s = handle.status()
    print(
        f"state={s.state} progress={s.progress:.3f} peers={s.num_peers} seeding={s.is_seeding}",
        flush=True,
    )
    time.sleep(1)
