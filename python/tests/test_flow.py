"""A grid worker's day through the generated Python bindings (also how data people script the
core). Run by scripts/test-bindings.sh; same flow as the Kotlin and Swift suites."""

import os
import struct
import threading
import time
import zlib
from pathlib import Path

import pytest

import gridwalk_ffi as gw

GRID = "640323001001001"
COMMUNITY = "640323001001"
# Valid GB 11643 numbers (invented): a man born 1980-01-01 and a woman born 1982-03-15.
ID_HEAD = "640323198001011235"
ID_SPOUSE = "640323198203151244"
ID_BAD_CHECKSUM = "640323198001011234"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def png(width: int = 64, height: int = 48) -> bytes:
    """A small RGB gradient PNG, written by hand (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in (x * 4, y * 5, 0)) for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


class FakeGps(gw.LocationSource):
    """Plays a short walk on its own thread, like a platform GPS callback."""

    def __init__(self, fixes: int = 5):
        self.fixes = fixes
        self.delivered: list[bool] = []
        self.stopped = False
        self.thread: threading.Thread | None = None

    def start(self, recorder):
        def walk():
            for i in range(self.fixes):
                time.sleep(0.15)  # ~1 m every 150 ms: a walking pace the track filter accepts
                fix = gw.LocationFix(lat=37.78 + i * 0.00001, lng=107.4, accuracy_m=5.0, at_ms=now_ms())
                self.delivered.append(recorder.record(fix))

        self.thread = threading.Thread(target=walk)
        self.thread.start()

    def stop(self):
        self.stopped = True


@pytest.fixture
def store(tmp_path: Path):
    s = gw.GridwalkStore.open(str(tmp_path / "work.db"))
    s.upsert_org_units(
        [
            gw.OrgUnit(code=COMMUNITY, name="幸福社区", level=gw.GridLevel.COMMUNITY),
            gw.OrgUnit(code=GRID, name="幸福社区第1网格", level=gw.GridLevel.GRID, parent_code=COMMUNITY, is_mine=True),
        ]
    )
    yield s
    s.close_store()


def household(store) -> gw.Household:
    return store.add_household(
        gw.HouseholdInput(
            grid_code=GRID,
            address=gw.Address(community="幸福社区", building="3栋", unit="2单元", room="502"),
            housing_type=gw.HousingType.OWNED,
            care_tier=gw.CareTier.CLOSE,
            location=gw.GeoPoint(lat=37.7801, lng=107.4001),
        )
    )


def resident(household_id: str, name: str, relation, **kw) -> gw.ResidentInput:
    return gw.ResidentInput(
        household_id=household_id, name=name, relation=relation, residency=gw.Residency.REGISTERED, **kw
    )


def test_household_with_residents_and_typed_id_number_error(store):
    h = household(store)
    assert h.sync_status == gw.SyncStatus.LOCAL_ONLY
    assert h.address_line == "幸福社区 3栋 2单元 502"

    head = store.add_resident(resident(h.id, "王建国", gw.Relation.HEAD, id_number=ID_HEAD, phone="13912345678"))
    assert head.gender == gw.Gender.MALE
    assert head.birth_date == "1980-01-01"
    store.add_resident(resident(h.id, "李秀英", gw.Relation.SPOUSE, id_number=ID_SPOUSE))
    assert [r.name for r in store.residents_of(h.id)] == ["王建国", "李秀英"]

    with pytest.raises(gw.GridwalkError.Validation) as bad:
        store.add_resident(resident(h.id, "王小明", gw.Relation.CHILD, id_number=ID_BAD_CHECKSUM))
    assert bad.value.field == "id_number"
    assert bad.value.code == gw.ValidationCode.INVALID_CHECKSUM
    assert bad.value.code.code() == "invalid_checksum"
    assert bad.value.message_zh == "身份证号校验位错误"
    assert ID_BAD_CHECKSUM not in str(bad.value)

    with pytest.raises(gw.GridwalkError.Validation) as dup:
        store.add_resident(resident(h.id, "王建国", gw.Relation.OTHER, id_number=ID_HEAD))
    assert dup.value.code == gw.ValidationCode.DUPLICATE
    assert dup.value.existing_household_id == h.id

    with pytest.raises(gw.GridwalkError.Validation) as bad_date:
        store.add_resident(resident(h.id, "王小红", gw.Relation.CHILD, gender=gw.Gender.FEMALE, birth_date="2015-02-30"))
    assert (bad_date.value.field, bad_date.value.code) == ("birth_date", gw.ValidationCode.INVALID_DATE)

    hits = store.search("王建国")
    assert (hits[0].kind, hits[0].id) == ("resident", head.id)

    patched = store.update_household(h.id, gw.HouseholdPatch(care_tier=gw.CareTier.ATTENTION, clear_location=True))
    assert patched.care_tier == gw.CareTier.ATTENTION and patched.location is None
    with pytest.raises(gw.GridwalkError.NotFound):
        store.get_household("no-such-id")


def test_visit_is_logged_and_counted(store):
    h = household(store)
    # An hour ago, but never before today's midnight in China: the day's statistics count it.
    china = 8 * 3_600_000
    midnight = (now_ms() + china) // 86_400_000 * 86_400_000 - china
    at = max(now_ms() - 3_600_000, midnight)
    v = store.log_visit(
        gw.VisitInput(household_id=h.id, visited_at_ms=at, mode=gw.VisitMode.IN_PERSON, outcome=gw.VisitOutcome.FINE)
    )
    assert v.visited_at_ms == at
    assert [x.id for x in store.visits_of(h.id)] == [v.id]

    with pytest.raises(gw.GridwalkError.Validation) as future:
        store.log_visit(
            gw.VisitInput(
                household_id=h.id, visited_at_ms=now_ms() + 86_400_000, mode=gw.VisitMode.PHONE, outcome=gw.VisitOutcome.FINE
            )
        )
    assert future.value.code == gw.ValidationCode.FUTURE_DATE

    stats = store.stats(gw.Period.DAY)
    assert stats.first_day == stats.last_day == store.local_today()
    assert stats.visits_total == 1
    assert stats.visits_by_mode["in_person"] == 1


def test_patrol_fed_by_location_source_and_single_fixes(store):
    gps = FakeGps(fixes=5)
    recorder = store.record_patrol(GRID, gps)
    gps.thread.join(10)
    assert gps.delivered == [True] * 5
    assert recorder.totals() == gw.TrackAppend(kept=5, skipped=0)
    assert store.active_patrol().id == recorder.patrol_id()

    assert store.add_location(recorder.patrol_id(), 37.78006, 107.4, 8.0, now_ms())
    assert not store.add_location(recorder.patrol_id(), 37.78007, 107.4, None, now_ms() + 3_600_000)

    with pytest.raises(gw.GridwalkError.InvalidState) as busy:
        store.start_patrol(GRID)
    assert busy.value.entity == "patrol"

    done = recorder.finish("一巡")
    assert gps.stopped
    assert done.ended_at_ms is not None
    assert done.point_count == 6
    assert done.distance_m > 0
    assert len(store.track_of(done.id)) == 6
    # A walk of a second or two is kept but does not count toward the quota (5 min, 100 m).
    assert done.counts is False
    settings = store.settings()
    assert (settings.min_patrol_minutes, settings.min_patrol_distance_m) == (5, 100)
    assert store.stats(gw.Period.DAY).patrols_too_short == 1
    assert store.active_patrol() is None
    with pytest.raises(gw.GridwalkError.InvalidState):
        recorder.record(gw.LocationFix(lat=37.78, lng=107.4, accuracy_m=None, at_ms=now_ms()))


def test_case_with_photo_is_drafted_and_submitted(store):
    draft = store.draft_case(
        gw.CaseInput(
            type_code="0203",
            urgency=gw.Urgency.URGENT,
            grid_code=GRID,
            description="楼道内电动车充电",
            location=gw.GeoPoint(lat=37.7802, lng=107.4002),
        )
    )
    assert draft.status == gw.CaseStatus.DRAFT and draft.category_code == "02"

    photo = store.add_photo(gw.PhotoOwner.CASE(id=draft.id), png(), now_ms())
    assert photo.mime == "image/jpeg" and photo.width == 64
    assert Path(photo.path).is_file() and Path(photo.thumb_path).is_file()
    assert photo.upload_state == gw.PhotoUploadState.PENDING

    with pytest.raises(gw.GridwalkError.Validation) as not_a_photo:
        store.add_photo(gw.PhotoOwner.CASE(id=draft.id), b"GIF89a-not-really")
    assert (not_a_photo.value.field, not_a_photo.value.code) == ("photo", gw.ValidationCode.UNSUPPORTED_FORMAT)

    sent = store.submit_case(draft.id)
    assert sent.status == gw.CaseStatus.SUBMITTED
    assert [p.id for p in sent.photos] == [photo.id]
    assert [e.kind for e in sent.events] == [
        gw.CaseEventKind.CREATED,
        gw.CaseEventKind.PHOTO_ADDED,
        gw.CaseEventKind.SUBMITTED,
    ]
    with pytest.raises(gw.GridwalkError.InvalidState) as locked:
        store.update_draft(draft.id, gw.CaseInput(type_code="0203", urgency=gw.Urgency.NORMAL, grid_code=GRID))
    assert locked.value.state == "submitted"
    assert len(store.list_cases(gw.CaseStatus.SUBMITTED)) == 1


def test_a_draft_is_made_with_its_photos_or_not_at_all_and_can_be_discarded(store):
    case = gw.CaseInput(type_code="0301", urgency=gw.Urgency.NORMAL, grid_code=GRID, description="垃圾堆放", address="3栋北侧")
    with pytest.raises(gw.GridwalkError.Validation) as bad:
        store.draft_case_with_photos(case, [png(), b"GIF89a-not-really"])
    assert (bad.value.field, bad.value.code) == ("photos[1]", gw.ValidationCode.UNSUPPORTED_FORMAT)
    assert store.list_cases() == []

    draft = store.draft_case_with_photos(case, [png(), png(32, 32)])
    assert len(draft.photos) == 2
    files = [Path(p.path) for p in draft.photos]
    assert all(f.is_file() for f in files)
    store.discard_draft(draft.id)
    assert store.list_cases() == []
    assert not any(f.exists() for f in files)
    with pytest.raises(gw.GridwalkError.NotFound):
        store.get_case(draft.id)


def test_verification_needs_a_case_awaiting_it_and_a_reason_to_reject(store):
    draft = store.draft_case(
        gw.CaseInput(type_code="0301", urgency=gw.Urgency.NORMAL, grid_code=GRID, description="垃圾堆放", address="3栋北侧")
    )
    sent = store.submit_case(draft.id)
    with pytest.raises(gw.GridwalkError.Validation) as no_reason:
        store.verify_case(sent.id, gw.VerificationVerdict.REJECTED)
    assert (no_reason.value.field, no_reason.value.code) == ("note", gw.ValidationCode.REQUIRED)
    # Only a case the server sent back for verification (after the next sync) can be verified.
    with pytest.raises(gw.GridwalkError.InvalidState) as not_yet:
        store.verify_case(sent.id, gw.VerificationVerdict.VERIFIED, "已清运", [png()])
    assert (not_yet.value.state, not_yet.value.action) == ("submitted", "verify")
    assert store.photos_of(gw.PhotoOwner.VERIFICATION(id=sent.id)) == []


def test_a_file_that_is_not_a_store_is_left_alone_and_a_store_reads_read_only(tmp_path: Path):
    sheet = tmp_path / "台账.xlsx"
    sheet.write_bytes(b"PK\x03\x04[Content_Types].xml not a database")
    with pytest.raises(gw.GridwalkError.NotAStore) as refused:
        gw.GridwalkStore.open(str(sheet))
    assert refused.value.reason == "not_sqlite"
    assert sheet.read_bytes() == b"PK\x03\x04[Content_Types].xml not a database"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["台账.xlsx"]

    path = str(tmp_path / "work.db")
    writer = gw.GridwalkStore.open(path)
    writer.upsert_org_units([gw.OrgUnit(code=GRID, name="幸福社区第1网格", level=gw.GridLevel.GRID, is_mine=True)])
    writer.close_store()
    reader = gw.GridwalkStore.open_read_only(path)
    assert [g.code for g in reader.my_grids()] == [GRID]
    with pytest.raises(gw.GridwalkError.ReadOnly):
        reader.upsert_org_units([gw.OrgUnit(code="x", name="x", level=gw.GridLevel.GRID)])
    reader.close_store()


def test_the_phone_library_encrypts_and_a_wrong_key_deletes_nothing(tmp_path: Path):
    # The library the suites load is the phone build: SQLCipher compiled in.
    assert gw.cipher_version() is not None
    path = tmp_path / "secret.db"
    s = gw.GridwalkStore.open_with_key(str(path), "right key")
    s.upsert_org_units([gw.OrgUnit(code=GRID, name="幸福社区第1网格", level=gw.GridLevel.GRID, is_mine=True)])
    h = household(s)
    s.add_resident(resident(h.id, "王建国", gw.Relation.HEAD, id_number=ID_HEAD))
    s.close_store()
    raw = path.read_bytes()
    assert b"SQLite format 3" not in raw[:16] and "王建国".encode() not in raw

    with pytest.raises(gw.GridwalkError.Encryption):
        gw.GridwalkStore.open_with_key(str(path), "wrong key")
    with pytest.raises(gw.GridwalkError.NotAStore):
        gw.GridwalkStore.open(str(path))
    assert path.read_bytes() == raw
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".photos")) == ["secret.db"]

    again = gw.GridwalkStore.open_with_key(str(path), "right key")
    assert [r.name for r in again.residents_of(h.id)] == ["王建国"]
    again.close_store()


def test_today_list_holds_task_and_patrol_quota(store):
    h = household(store)
    task = store.add_task(
        gw.TaskInput(
            kind=gw.TaskKind.CALL_BACK,
            title="回访王阿姨",
            due_on=store.local_today(),
            priority=gw.Priority.HIGH,
            source=gw.TaskSource.OWN,
            target=gw.TaskTarget(kind="household", id=h.id),
        )
    )
    items = store.today(gw.GeoPoint(lat=37.78, lng=107.40))
    mine = [i for i in items if i.kind == gw.TodayKind.TASK]
    assert [i.target_id for i in mine] == [task.id]
    assert mine[0].priority == gw.Priority.HIGH
    assert any(i.kind == gw.TodayKind.VISIT_DUE and i.target_id == h.id for i in items)
    assert any(i.kind == gw.TodayKind.PATROL for i in items)

    done = store.finish_task(task.id, gw.TaskStatus.DONE)
    assert done.completed_at_ms is not None
    assert not any(i.kind == gw.TodayKind.TASK for i in store.today())

    with pytest.raises(gw.GridwalkError.Validation) as bad_day:
        store.add_task(gw.TaskInput(kind=gw.TaskKind.CUSTOM, title="x", due_on="tomorrow", priority=gw.Priority.LOW, source=gw.TaskSource.OWN))
    assert bad_day.value.field == "due_on"


def test_grid_codes_are_checked_before_use(store):
    # Before the first sign-in nobody has confirmed the tree the app was set up with.
    warning = store.check_grid(GRID)
    assert warning == gw.GridWarning.UNCONFIRMED
    assert warning.code() == "unconfirmed" and warning.message_zh().startswith("网格编码")
    with pytest.raises(gw.GridwalkError.Validation) as unknown:
        store.check_grid("640323001001999")
    assert (unknown.value.field, unknown.value.code) == ("grid_code", gw.ValidationCode.UNKNOWN_REFERENCE)


def test_vocabularies_and_closed_store(store):
    assert gw.CareTier.CLOSE.label_zh() == "连心户"
    assert gw.CareTier.CLOSE.code() == "close"
    assert any(t.code == "0203" and t.label_zh == "电动车违规充电" for t in gw.case_types())
    store.close_store()
    assert store.is_closed()
    with pytest.raises(gw.GridwalkError.Closed):
        store.my_grids()


# ---- sync against the real server scripts/test-bindings.sh starts on loopback ---------------

DEMO_USER, DEMO_PASSWORD = "wangfang", "demo-pass"  # sync-server/src/README.md


@pytest.fixture
def server_url() -> str:
    url = os.environ.get("GRIDWALK_SERVER_URL")
    assert url, "GRIDWALK_SERVER_URL is not set: run through scripts/test-bindings.sh"
    return url


class Progress(gw.SyncProgressListener):
    def __init__(self):
        self.reports: list[gw.SyncProgress] = []

    def on_progress(self, progress):
        self.reports.append(progress)


def test_login_sync_upload_and_second_device(tmp_path: Path, server_url: str):
    phone = gw.GridwalkStore.open(str(tmp_path / "phone.db"))
    with pytest.raises(gw.GridwalkError.Auth) as not_signed_in:
        phone.sync()
    assert not_signed_in.value.code == "not_signed_in"
    with pytest.raises(gw.GridwalkError.Auth) as wrong:
        phone.login(server_url, DEMO_USER, "wrong-password")
    assert wrong.value.code == "bad_credentials"

    session = phone.login(server_url, DEMO_USER, DEMO_PASSWORD, "pytest")
    assert session.username == DEMO_USER and GRID in session.grids
    assert GRID in [g.code for g in phone.my_grids()]
    assert phone.check_grid(GRID) is None  # confirmed by the server's org tree

    # Work done offline: a household with a resident, a case with a photo.
    h = phone.add_household(
        gw.HouseholdInput(
            grid_code=GRID,
            address=gw.Address(community="幸福社区", building="9栋", unit="1单元", room="python"),
            housing_type=gw.HousingType.RENTED,
            care_tier=gw.CareTier.ATTENTION,
        )
    )
    phone.add_resident(resident(h.id, "赵大海", gw.Relation.HEAD, gender=gw.Gender.MALE, birth_date="1975-06-01"))
    case = phone.draft_case(
        gw.CaseInput(type_code="0203", urgency=gw.Urgency.NORMAL, grid_code=GRID, description="飞线充电", address="9栋楼下")
    )
    phone.add_photo(gw.PhotoOwner.CASE(id=case.id), png(40, 30))
    phone.submit_case(case.id)

    # Cancelled before it starts: nothing is lost, the next sync sends everything.
    cancel = gw.CancelHandle()
    cancel.cancel()
    with pytest.raises(gw.GridwalkError.Cancelled):
        phone.sync(cancel=cancel)
    assert phone.get_household(h.id).sync_status == gw.SyncStatus.LOCAL_ONLY

    progress = Progress()
    report = phone.sync(progress, gw.CancelHandle())
    assert report.pushed > 0 and report.rejected == 0
    assert progress.reports and progress.reports[-1].phase == gw.SyncPhase.DONE
    assert any(p.phase == gw.SyncPhase.PUSH for p in progress.reports)
    assert phone.get_household(h.id).sync_status == gw.SyncStatus.SYNCED
    assert phone.attention() == []
    assert phone.conflicts() == []

    uploads = Progress()
    up = phone.upload_photos(uploads)
    assert up.uploaded + up.already_on_server == 1 and up.failed == 0
    assert uploads.reports[-1].phase == gw.SyncPhase.UPLOAD
    assert phone.get_case(case.id).photos[0].upload_state == gw.PhotoUploadState.DONE

    # A second device of the same worker receives the household.
    tablet = gw.GridwalkStore.open(str(tmp_path / "tablet.db"))
    tablet.login(server_url, DEMO_USER, DEMO_PASSWORD)
    pulled = tablet.sync()
    assert pulled.pulled > 0
    assert tablet.get_household(h.id).address.room == "python"
    assert [r.name for r in tablet.residents_of(h.id)] == ["赵大海"]
    phone.logout()
    assert phone.session() is None
    tablet.close_store()
    phone.close_store()
