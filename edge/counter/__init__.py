"""The officer's counter app: a kiosk page served by ``edge run`` on loopback (docs/COUNTER.md)."""
