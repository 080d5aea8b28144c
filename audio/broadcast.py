"""The broadcast queue (`house.broadcasts`): accepts items, keeps them in order and in
the database, and lets the village head approve, reorder and cancel them. Playing is
done by `BroadcastWorker` (audio/broadcast_worker.py), the one owner of the sound
output and of the amplifier.

Preemption policy: an emergency stops whatever non-emergency item plays, and any item
that ranks higher stops a stream relay (which may last an hour: the village head's
announcement does not wait behind the morning's VOV relay); the stopped item gets a
`preempted` log record and goes back to the head of its priority level, to be played
again from the start (a stream relay resumes for what is left of its window)."""
from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, BinaryIO, Callable

from audio.broadcast_items import (RANK, WAITING, Item, ItemStore, Reason, RetryFactory, in_quiet_hours, next_playable,
                                   queue_order)
from audio.config import AudioConfig
from audio.media import MediaError, probe
from audio.normalize import NO_WORDS, has_words

logger = logging.getLogger(__name__)

ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
URL_RE = re.compile(r"(https?|rtsp|rtmp)://\S+")   # a stream to relay
AUDIO_URL_RE = re.compile(r"https?://\S+")        # a file to fetch
USERINFO = re.compile(r"(?<=://)[^/@\s]*@")        # user:password@ in a URL: never said back


class BroadcastRefused(Exception):
    """Bad or impossible request; `status`, `kind` and `values` as in CommandError (400,
    404, 409, 413, 503; e.g. "text_too_long", length=6000, limit=5000)."""

    def __init__(self, message: str, status: int = 400, kind: str = "", **values: Any):
        super().__init__(message)
        self.message, self.status, self.kind, self.values = message, status, kind, values


def checked_text(text: str, max_chars: int) -> str:
    """An announcement's text, stripped, or BroadcastRefused naming `text`: empty, nothing
    but emoji and punctuation, or over audio.max_text_chars. Queued items, the phone's
    spoken preview and `langso tts say`."""
    text = text.strip()
    if not text:
        raise BroadcastRefused("text: is empty; type the announcement", kind="text_empty")
    if len(text) > max_chars:
        raise BroadcastRefused(f"text: {len(text)} characters is longer than the {max_chars} character limit "
                               "(audio.max_text_chars); split the announcement",
                               kind="text_too_long", length=len(text), limit=max_chars)
    if not has_words(text):
        raise BroadcastRefused(f"text: {NO_WORDS}", kind="text_no_words")
    return text


class BroadcastQueue:
    def __init__(self, config: AudioConfig, db: Any, data_dir: Path, tz: tzinfo,
                 publish: Callable[[str, dict[str, Any]], None], clock: Callable[[], float] = time.time, *,
                 write_retry: RetryFactory):
        """`write_retry`: for the items' store while a full disk refuses writes (ItemStore)."""
        self.config = config
        self.items = ItemStore(db, write_retry)
        self.uploads = Path(data_dir) / "uploads"
        self.uploads.mkdir(parents=True, exist_ok=True)
        self.tz, self.publish, self.clock = tz, publish, clock
        self.changed = threading.Condition(threading.RLock())
        self._waiting: dict[str, Item] = {}
        self.playing: Item | None = None
        self.stop_current = threading.Event()
        self.stop_why = Reason()  # why the playing item is being stopped
        self.requeue_current = False
        self._cut_by_restart: set[str] = set()  # playing when the daemon stopped (a power cut: no log record)
        for item in self.items.waiting():  # the queue survives a restart
            if item.state == "playing":
                item = item.with_(state="queued")
                self.items.save(item)
                self._cut_by_restart.add(item.id)
                logger.warning("broadcast re-queued after restart id=%s", item.id)
            self._waiting[item.id] = item
        self._clear_orphan_uploads()
        logger.info("broadcast queue loaded items=%d", len(self._waiting))

    # requests --------------------------------------------------------------
    def submit(self, *, id: str = "", text: str = "", audio_path: str = "", audio_url: str = "", stream_url: str = "",
               priority: str = "normal", repeat: int = 1, at: float | None = None, duration_s: float | None = None,
               until: float | None = None, source: str = "system", who: str = "system") -> dict[str, Any]:
        """`until`: the end of a schedule window; the item never plays after it."""
        item = self._validate(id, text, audio_path, audio_url, stream_url, priority, repeat, at, duration_s, source, who)
        item = item.with_(until=until)
        with self.changed:
            existing = self._waiting.get(item.id) or (self.playing if self.playing and self.playing.id == item.id else None)
            if existing is not None:  # the same id again (an MQTT retry, a phone's second tap): the item already queued
                if existing.audio_path != item.audio_path:  # the recording sent again: its new copy is not kept
                    self.discard_upload(item)
                return existing.public()
            if self.items.get(item.id) is not None:
                self.discard_upload(item)
                raise BroadcastRefused(f"id: {item.id!r} was already used by a finished broadcast; send a new id", 409,
                                       "id_used", id=item.id)
            inbox = item.priority == "normal" and item.source in self.config.inbox_sources  # `at` or not
            item = item.with_(state="inbox" if inbox else "queued", seq=self.items.next_seq())
            self.items.add(item)  # a full disk refuses it here (the caller says so): never queued only in memory
            self._waiting[item.id] = item
            self._preempt_for(item)
            self.changed.notify_all()
        logger.info("broadcast queued id=%s kind=%s priority=%s state=%s who=%s", item.id, item.kind, item.priority, item.state, who)
        self.publish_state()
        return item.public()

    def _validate(self, id: str, text: str, audio_path: str, audio_url: str, stream_url: str, priority: str,
                  repeat: int, at: float | None, duration_s: float | None, source: str, who: str) -> Item:
        given = [name for name, v in (("text", text), ("audio_path", audio_path), ("audio_url", audio_url),
                                      ("stream_url", stream_url)) if v]
        if len(given) != 1:
            raise BroadcastRefused("send exactly one of text, an audio file, audio_url or stream_url"
                                   + (f" (got {', '.join(given)})" if given else ""))
        if priority not in RANK:
            raise BroadcastRefused(f"priority: {priority!r} is unknown; use emergency, priority or normal")
        if not isinstance(repeat, int) or not 1 <= repeat <= 10:
            raise BroadcastRefused(f"repeat: {repeat!r} must be a whole number from 1 to 10")
        if duration_s is not None and not 0 < duration_s <= self.config.max_stream_s:
            raise BroadcastRefused(f"duration_s: must be more than 0 and at most {self.config.max_stream_s:.0f} (audio.max_stream_s)")
        if id and not ID_RE.fullmatch(id):
            raise BroadcastRefused("id: use 1-64 letters, digits, '.', '_', ':' or '-'")
        if text:
            text = checked_text(text, self.config.max_text_chars)
        for name, url, pattern, said in (("audio_url", audio_url, AUDIO_URL_RE, "an http(s)"),
                                         ("stream_url", stream_url, URL_RE, "an http(s)/rtsp/rtmp")):
            if url and not pattern.fullmatch(url):
                raise BroadcastRefused(f"{name}: {USERINFO.sub('', url)[:80]!r} is not {said} URL")
        if audio_path:
            try:
                probe(audio_path, self.config.max_upload_mb * 2**20, self.config.max_audio_s)
            except (MediaError, OSError) as err:
                raise BroadcastRefused(str(err), 400, getattr(err, "kind", ""), **getattr(err, "values", {})) from err
        kind = "text" if text else "stream" if stream_url else "audio"
        return Item(id=id or uuid.uuid4().hex[:12], kind=kind, priority=priority, source=source, who=who, text=text,
                    audio_path=audio_path, audio_url=audio_url, stream_url=stream_url, repeat=repeat if kind != "stream" else 1,
                    at=at, duration_s=duration_s, created=self.clock())

    def _preempt_for(self, item: Item) -> None:
        current = self.playing
        if current is None or item.state != "queued" or self.stop_current.is_set() \
                or (item.at is not None and item.at > self.clock()):
            return
        if item.priority == "emergency" and current.priority != "emergency":
            self.stop_why = Reason(f"preempted by emergency {item.id}", "preempted_by_emergency", {"id": item.id})
        elif current.kind == "stream" and item.rank < current.rank and not self.quiet_now():
            self.stop_why = Reason(f"paused for announcement {item.id}", "paused_for_announcement", {"id": item.id})
        else:
            return
        self.requeue_current = True
        self.stop_current.set()
        logger.info("broadcast preempting id=%s by=%s", current.id, item.id)

    def preempt_if_due(self) -> None:
        """An item queued for a time (`at`) that has now come, or let out of the inbox, stops
        what plays as one sent for "now" does at submit (an emergency anything, any higher
        rank a stream relay). The worker asks while it plays."""
        with self.changed:
            if self.playing is None or self.stop_current.is_set():
                return
            for item in list(self._waiting.values()):
                self._preempt_for(item)

    @property
    def stop_reason(self) -> str:
        return self.stop_why.text

    def cancel(self, item_id: str, who: str, why: Reason | None = None) -> dict[str, Any]:
        """Cancel a waiting item, or stop the one playing (its log record says `why`, by
        default "cancelled by <who>")."""
        with self.changed:
            if self.playing is not None and self.playing.id == item_id:
                self.stop_why = why or Reason(f"cancelled by {who}", "cancelled", {"who": who})
                self.requeue_current = False
                self.stop_current.set()
            elif item_id in self._waiting:
                item = self._waiting.pop(item_id).with_(state="cancelled")
                self.items.save(item)
                self.discard_upload(item)
            else:
                raise BroadcastRefused(f"no queued or playing broadcast with id {item_id!r}", 404, "not_queued", id=item_id)
            self.changed.notify_all()
        logger.info("broadcast cancelled id=%s by=%s", item_id, who)
        self.publish_state()
        return {"id": item_id, "cancelled": True}

    def approve(self, item_id: str, who: str, at: float | None = None) -> dict[str, Any]:
        """The village head lets an inbox item play: at `at` if given, else at the time the
        sender asked for (at once if that has passed); its log record keeps `who` as
        approved_by beside the sender."""
        with self.changed:
            item = self._waiting.get(item_id)
            if item is None or item.state != "inbox":
                raise BroadcastRefused(f"no broadcast with id {item_id!r} waits in the inbox", 404, "not_in_inbox", id=item_id)
            item = item.with_(state="queued", at=item.at if at is None else at, approved_by=who)
            self.items.save(item)
            self._waiting[item_id] = item
            self.changed.notify_all()
        logger.info("broadcast approved id=%s by=%s at=%s", item_id, who, at)
        self.publish_state()
        return item.public()

    def reorder(self, ids: list[str], who: str) -> dict[str, Any]:
        """Queued items in `ids` take their places in that order (the village head sorts
        colliding priority items); other items keep theirs."""
        with self.changed:
            unknown = [i for i in ids if i not in self._waiting or self._waiting[i].state != "queued"]
            if unknown:
                raise BroadcastRefused(f"ids: not queued: {', '.join(unknown)}; send the ids of the queue as it is now",
                                       404, "order_not_queued", ids=", ".join(unknown))
            if len(set(ids)) != len(ids):
                raise BroadcastRefused("ids: an id is given more than once; give each queued id once", 400, "order_repeated")
            seqs = sorted(self._waiting[i].seq for i in ids)
            for item_id, seq in zip(ids, seqs):
                item = self._waiting[item_id].with_(seq=seq)
                self.items.save(item)
                self._waiting[item_id] = item
            self.changed.notify_all()
        logger.info("broadcasts reordered ids=%s by=%s", ",".join(ids), who)
        self.publish_state()
        return self.listing()

    def save_upload(self, stream: BinaryIO, filename: str) -> str:
        """Store an uploaded recording (bounded size) and check that it is audio. Whatever
        goes wrong (too large, not audio, the disk full), no part of the file is left."""
        limit = self.config.max_upload_mb * 2**20
        suffix = re.sub(r"[^a-z0-9.]", "", Path(filename or "").suffix.lower())[:8] or ".bin"
        path = self.uploads / f"{uuid.uuid4().hex}{suffix}"
        try:
            with open(path, "wb") as out:
                copied = 0
                while chunk := stream.read(1 << 16):
                    copied += len(chunk)
                    if copied > limit:
                        raise BroadcastRefused(f"file: larger than the {self.config.max_upload_mb} MB limit (audio.max_upload_mb)",
                                               413, "file_too_large", limit_mb=self.config.max_upload_mb)
                    out.write(chunk)
            probe(path, limit, self.config.max_audio_s)
        except MediaError as err:
            path.unlink(missing_ok=True)
            raise BroadcastRefused(str(err), 400, err.kind, **err.values) from err
        except BaseException:  # refused, or the disk is full (the caller says so)
            path.unlink(missing_ok=True)
            raise
        return str(path)

    def discard_upload(self, item: Item) -> None:
        if item.audio_path and Path(item.audio_path).parent == self.uploads:
            Path(item.audio_path).unlink(missing_ok=True)

    # the worker's side -----------------------------------------------------
    def quiet_now(self) -> bool:
        return in_quiet_hours(datetime.fromtimestamp(self.clock(), self.tz), self.config.quiet_hours)

    def take_next(self) -> Item | None:
        """The next item to play now (marked playing), or None."""
        self.drop_ended()
        with self.changed:
            item = next_playable(self._waiting.values(), self.clock(), self.quiet_now())
            if item is None:
                return None
            item = self._waiting.pop(item.id).with_(state="playing")
            self.items.save(item)
            self.playing = item
            self.stop_current.clear()
            self.stop_why, self.requeue_current = Reason(), False
        self.publish_state()
        return item

    def finish(self, item: Item, started: float | None, outcome: str, reason: str | Reason = "",
               remaining_s: float | None = None) -> None:
        """Record how `item` ended; a preempted item goes back to the queue."""
        record = self._record(item, started, outcome, reason if isinstance(reason, Reason) else Reason(reason))
        with self.changed:
            requeue = outcome == "preempted" and self.requeue_current and (remaining_s is None or remaining_s > 1)
            if requeue:
                again = item.with_(state="queued", duration_s=remaining_s if item.kind == "stream" else item.duration_s)
                self._waiting[item.id] = again
                self.items.save(again)
            else:
                final = item.with_(state={"played": "played", "failed": "failed"}.get(outcome, "cancelled"))
                self.items.save(final)
                self.discard_upload(item)
            self.playing = None
            self.items.log(record)
            self.changed.notify_all()
        logger.info("broadcast ended id=%s outcome=%s reason=%r requeued=%s", item.id, outcome, record["reason"], requeue)
        self.publish("broadcast.log", record)
        self.publish_state()

    def _record(self, item: Item, started: float | None, outcome: str, reason: Reason) -> dict[str, Any]:
        """The proof-of-broadcast record of `item`, ended now."""
        return {"id": item.id, "kind": item.kind, "text": item.text, "source": item.source, "who": item.who,
                "approved_by": item.approved_by, "priority": item.priority, "started": started, "ended": self.clock(),
                "outcome": outcome, "reason": reason.text, "reason_kind": reason.kind, "reason_values": reason.values}

    def drop_ended(self) -> None:
        """Scheduled items whose window has ended while they waited — the daemon was
        stopped (a power cut) through the window's end — are not played any more: each
        gets a `failed` record saying why. Called at start and before each take."""
        now = self.clock()
        records = []
        with self.changed:
            for item in [i for i in self._waiting.values() if i.until is not None and i.until <= now]:
                ended = datetime.fromtimestamp(item.until, self.tz).strftime("%H:%M")  # type: ignore[arg-type]
                reason = (Reason(f"not played again: it was playing when the daemon stopped (a power cut or restart) and "
                                 f"its schedule window ended at {ended} before the daemon was back", "window_over_restart",
                                 {"end": ended}) if item.id in self._cut_by_restart
                          else Reason(f"not played: its schedule window ended at {ended} while it waited", "window_over",
                                      {"end": ended}))
                del self._waiting[item.id]
                self.items.save(item.with_(state="failed"))
                records.append(self._record(item, None, "failed", reason))
                self.items.log(records[-1])
                self.discard_upload(item)
                logger.warning("broadcast not played id=%s reason=%r", item.id, reason.text)
        for record in records:
            self.publish("broadcast.log", record)
        if records:
            self.publish_state()

    def put_back(self, item: Item, reason: str) -> None:
        """The output could not be opened for `item`: it waits in its place again, with no
        log record (it has not played)."""
        with self.changed:
            again = item.with_(state="queued")
            self._waiting[item.id] = again
            self.items.save(again)
            self.playing = None
            self.changed.notify_all()
        logger.warning("broadcast waits for the output id=%s reason=%r", item.id, reason)
        self.publish_state()

    def wait_change(self, timeout: float) -> None:
        with self.changed:
            self.changed.wait(timeout)

    # reading ---------------------------------------------------------------
    def listing(self, log_limit: int = 50) -> dict[str, Any]:
        with self.changed:
            waiting = list(self._waiting.values())
            playing = self.playing
        return {"playing": playing.public() if playing else None,
                "queue": [i.public() for i in queue_order(waiting)],
                "inbox": [i.public() for i in sorted(waiting, key=lambda i: i.seq) if i.state == "inbox"],
                "log": self.items.records(log_limit)}

    def publish_state(self) -> None:
        listing = self.listing(0)
        self.publish("broadcast.state", {"playing": listing["playing"], "queue": listing["queue"]})

    def texts_ahead(self) -> list[str]:
        """Texts queued for later: rendered ahead so they play when the link is down."""
        with self.changed:
            return [i.text for i in self._waiting.values() if i.kind == "text" and i.state in WAITING]

    def get(self, item_id: str) -> Item | None:
        with self.changed:
            if self.playing is not None and self.playing.id == item_id:
                return self.playing
            return self._waiting.get(item_id) or self.items.get(item_id)

    def stop_if_from(self, item_id: str, who: str, why: Reason) -> bool:
        """Stop `item_id` if it plays or waits (a schedule window ended)."""
        try:
            self.cancel(item_id, who, why)
            return True
        except BroadcastRefused:
            return False

    def _clear_orphan_uploads(self) -> None:
        keep = {Path(i.audio_path).name for i in self._waiting.values() if i.audio_path}
        for path in self.uploads.iterdir():
            if path.name not in keep:
                path.unlink(missing_ok=True)
