// A grid worker's day through the generated Swift bindings (the iOS binding layer, minus
// UIKit). Run by scripts/test-bindings.sh with `swift test` in the trixie chroot; same flow as
// the Kotlin and Python suites.
import Foundation
import XCTest

@testable import GridwalkCore

let grid = "640323001001001"
let community = "640323001001"
// Valid GB 11643 numbers (invented): a man born 1980-01-01 and a woman born 1982-03-15.
let idHead = "640323198001011235"
let idSpouse = "640323198203151244"
let idBadChecksum = "640323198001011234"

/// A 32×24 RGB gradient PNG (what a camera or screenshot hands the app).
let pngBytes = Data(base64Encoded: "iVBORw0KGgoAAAANSUhEUgAAACAAAAAYCAIAAAAUMWhjAAAFhUlEQVR4nBXVsaqDQBCF4b+IIBLQYosIQQJabBFBJKDFFgoiAS22UAgiaLFFhCABU6Tw4W/uC+wHOzPnABzAhiN4IOAEZ7hABBKukMANclBQQAV3aEFDBw8YYQYDT3jBGz7whf33OhYHC9viaOFZCIuTxdniYhFZSIurRWJxs8gtlEVhUVncLVoLbdFZPCxGi9nCWDwtXhZvi4/F12K3foDDwcF2ODp4DsLh5HB2uDhEDtLh6pA43BxyB+VQOFQOd4fWQTt0Dg+H0WF2MA5Ph5fD2+Hj8HXYnR/gcnCxXY4unotwObmcXS4ukYt0ubokLjeX3EW5FC6Vy92lddEuncvDZXSZXYzL0+Xl8nb5uHxddpf/Xz8IbMFR4AmE4CQ4Cy6CSCAFV0EiuAlygRIUgkpwF7QCLegED8EomAVG8BS8BG/BR/AV7L+R4nPwsX2OPp6P8Dn5nH0uPpGP9Ln6JD43n9xH+RQ+lc/dp/XRPp3Pw2f0mX2Mz9Pn5fP2+fh8fXb/BwQcAuyAY4AXIAJOAeeAS0AUIAOuAUnALSAPUAFFQBVwD2gDdEAX8AgYA+YAE/AMeAW8Az4B34A9+AEhhxA75BjihYiQU8g55BIShciQa0gScgvJQ1RIEVKF3EPaEB3ShTxCxpA5xIQ8Q14h75BPyDdkD/lf9YPElhwlnkRITpKz5CKJJFJylSSSmySXKEkhqSR3SSvRkk7ykIySWWIkT8lL8pZ8JF/J/rsjYg4xdswxxosRMaeYc8wlJoqRMdeYJOYWk8eomCKmirnHtDE6pot5xIwxc4yJeca8Yt4xn5hvzB7/gJRDip1yTPFSRMop5ZxySYlSZMo1JUm5peQpKqVIqVLuKW2KTulSHiljypxiUp4pr5R3yiflm7KnPyDjkGFnHDO8DJFxyjhnXDKiDJlxzUgybhl5hsooMqqMe0aboTO6jEfGmDFnmIxnxivjnfHJ+GbsGf/5clDYiqPCUwjFSXFWXBSRQiquikRxU+QKpSgUleKuaBVa0SkeilExK4ziqXgp3oqP4qvYf+FFyaHELjmWeCWi5FRyLrmURCWy5FqSlNxK8hJVUpRUJfeStkSXdCWPkrFkLjElz5JXybvkU/It2csfUHOosWuONV6NqDnVnGsuNVGNrLnWJDW3mrxG1RQ1Vc29pq3RNV3No2asmWtMzbPmVfOu+dR8a/b6BzQcGuyGY4PXIBpODeeGS0PUIBuuDUnDrSFvUA1FQ9Vwb2gbdEPX8GgYG+YG0/BseDW8Gz4N34a94T/UDxpbc9R4GqE5ac6aiybSSM1Vk2humlyjNIWm0tw1rUZrOs1DM2pmjdE8NS/NW/PRfDX7rzHoOfTYPccer0f0nHrOPZeeqEf2XHuSnltP3qN6ip6q597T9uierufRM/bMPabn2fPqefd8er49e/8DBg4D9sBxwBsQA6eB88BlIBqQA9eBZOA2kA+ogWKgGrgPtAN6oBt4DIwD84AZeA68Bt4Dn4HvwD78gInDhD1xnPAmxMRp4jxxmYgm5MR1Ipm4TeQTaqKYqCbuE+2EnugmHhPjxDxhJp4Tr4n3xGfiO7FP/DfpwWAbjgbPIAwnw9lwMUQGabgaEsPNkBuUoTBUhruhNWhDZ3gYRsNsMIan4WV4Gz6Gr2H/1TQLhwV74bjgLYiF08J54bIQLciF60KycFvIF9RCsVAt3BfaBb3QLTwWxoV5wSw8F14L74XPwndhX37AymHFXjmueCti5bRyXrmsRCty5bqSrNxW8hW1UqxUK/eVdkWvdCuPlXFlXjErz5XXynvls/Jd2dcfsHHYsDeOG96G2DhtnDcuG9GG3LhuJBu3jXxDbRQb1cZ9o93QG93GY2PcmDfMxnPjtfHe+Gx8N/aNP8w2ZpC6PvMMAAAAAElFTkSuQmCC")!

func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

/// Plays a short walk on its own thread, like a CLLocationManager delegate would.
final class FakeGps: LocationSource, @unchecked Sendable {
    let fixes: Int
    private let lock = NSLock()
    private var _delivered: [Bool] = []
    private var _stopped = false
    let done = DispatchSemaphore(value: 0)

    init(fixes: Int) { self.fixes = fixes }

    var delivered: [Bool] { lock.lock(); defer { lock.unlock() }; return _delivered }
    var stopped: Bool { lock.lock(); defer { lock.unlock() }; return _stopped }

    func start(recorder: PatrolRecorder) throws {
        let fixes = self.fixes
        Thread {
            for i in 0..<fixes {
                // ~1 m north every 150 ms: a walking pace the track filter accepts.
                Thread.sleep(forTimeInterval: 0.15)
                let fix = LocationFix(
                    lat: 37.78 + Double(i) * 0.00001, lng: 107.4, accuracyM: 5.0, atMs: nowMs())
                let kept = (try? recorder.record(fix: fix)) ?? false
                self.lock.lock(); self._delivered.append(kept); self.lock.unlock()
            }
            self.done.signal()
        }.start()
    }

    func stop() throws {
        lock.lock(); _stopped = true; lock.unlock()
    }
}

/// The error thrown by `body`, which must be a `GridwalkError`.
func gridwalkError<T>(_ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line) -> GridwalkError? {
    do {
        _ = try body()
        XCTFail("expected a GridwalkError", file: file, line: line)
    } catch let e as GridwalkError {
        return e
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
    return nil
}

final class WorkerFlowTests: XCTestCase {
    var dir: URL!
    var store: GridwalkStore!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("gridwalk-swift-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        store = try GridwalkStore.open(path: dir.appendingPathComponent("work.db").path)
        try store.upsertOrgUnits(units: [
            OrgUnit(code: community, name: "幸福社区", level: .community),
            OrgUnit(code: grid, name: "幸福社区第1网格", level: .grid, parentCode: community, isMine: true),
        ])
    }

    override func tearDownWithError() throws {
        store.closeStore()
        try? FileManager.default.removeItem(at: dir)
    }

    func household() throws -> Household {
        try store.addHousehold(input: HouseholdInput(
            gridCode: grid,
            address: Address(community: "幸福社区", building: "3栋", unit: "2单元", room: "502"),
            housingType: .owned, careTier: .close, location: GeoPoint(lat: 37.7801, lng: 107.4001)))
    }

    func resident(_ householdId: String, _ name: String, _ relation: Relation, idNumber: String? = nil) -> ResidentInput {
        ResidentInput(householdId: householdId, name: name, relation: relation, residency: .registered, idNumber: idNumber)
    }

    func testHouseholdWithResidentsAndTypedIdNumberError() throws {
        let h = try household()
        XCTAssertEqual(h.syncStatus, .localOnly)
        XCTAssertEqual(h.addressLine, "幸福社区 3栋 2单元 502")

        let head = try store.addResident(input: resident(h.id, "王建国", .head, idNumber: idHead))
        XCTAssertEqual(head.gender, .male)
        XCTAssertEqual(head.birthDate, "1980-01-01")
        _ = try store.addResident(input: resident(h.id, "李秀英", .spouse, idNumber: idSpouse))
        XCTAssertEqual(try store.residentsOf(householdId: h.id).map(\.name), ["王建国", "李秀英"])

        guard case let .Validation(field, code, _, messageZh, _)? =
            gridwalkError({ try store.addResident(input: resident(h.id, "王小明", .child, idNumber: idBadChecksum)) })
        else { return XCTFail("not a validation error") }
        XCTAssertEqual(field, "id_number")
        XCTAssertEqual(code, .invalidChecksum)
        XCTAssertEqual(code.code(), "invalid_checksum")
        XCTAssertEqual(messageZh, "身份证号校验位错误")

        guard case let .Validation(_, dupCode, existing, _, _)? =
            gridwalkError({ try store.addResident(input: resident(h.id, "王建国", .other, idNumber: idHead)) })
        else { return XCTFail("not a validation error") }
        XCTAssertEqual(dupCode, .duplicate)
        XCTAssertEqual(existing, h.id)

        let hits = try store.search(query: "王建国")
        XCTAssertEqual(hits.first?.id, head.id)

        let patched = try store.updateHousehold(id: h.id, patch: HouseholdPatch(careTier: .attention, clearLocation: true))
        XCTAssertEqual(patched.careTier, .attention)
        XCTAssertNil(patched.location)
        guard case .NotFound? = gridwalkError({ try store.getHousehold(id: "no-such-id") }) else {
            return XCTFail("not NotFound")
        }
    }

    func testVisitIsLoggedAndCounted() throws {
        let h = try household()
        // An hour ago, but never before today's midnight in China: the day's statistics count it.
        let china: Int64 = 8 * 3_600_000
        let midnight = (nowMs() + china) / 86_400_000 * 86_400_000 - china
        let at = max(nowMs() - 3_600_000, midnight)
        let v = try store.logVisit(input: VisitInput(householdId: h.id, visitedAtMs: at, mode: .inPerson, outcome: .fine))
        XCTAssertEqual(v.visitedAtMs, at)
        XCTAssertEqual(try store.visitsOf(householdId: h.id).map(\.id), [v.id])

        guard case let .Validation(_, code, _, _, _)? = gridwalkError({
            try store.logVisit(input: VisitInput(householdId: h.id, visitedAtMs: nowMs() + 86_400_000, mode: .phone, outcome: .fine))
        }) else { return XCTFail("not a validation error") }
        XCTAssertEqual(code, .futureDate)

        let stats = try store.stats(period: .day)
        XCTAssertEqual(stats.firstDay, try store.localToday())
        XCTAssertEqual(stats.visitsTotal, 1)
        XCTAssertEqual(stats.visitsByMode["in_person"], 1)
    }

    func testPatrolFedByLocationSourceAndSingleFixes() throws {
        let gps = FakeGps(fixes: 5)
        let recorder = try store.recordPatrol(gridCode: grid, source: gps)
        XCTAssertEqual(gps.done.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(gps.delivered, [true, true, true, true, true])
        XCTAssertEqual(recorder.totals(), TrackAppend(kept: 5, skipped: 0))
        XCTAssertEqual(try store.activePatrol()?.id, recorder.patrolId())

        XCTAssertTrue(try store.addLocation(patrolId: recorder.patrolId(), lat: 37.78006, lng: 107.4, accuracyM: 8, atMs: nowMs()))
        XCTAssertFalse(try store.addLocation(patrolId: recorder.patrolId(), lat: 37.78007, lng: 107.4, accuracyM: nil, atMs: nowMs() + 3_600_000))

        guard case let .InvalidState(entity, _, _, _, _, _)? = gridwalkError({ try store.startPatrol(gridCode: grid) })
        else { return XCTFail("not InvalidState") }
        XCTAssertEqual(entity, "patrol")

        let done = try recorder.finish(notes: "一巡")
        XCTAssertTrue(gps.stopped)
        XCTAssertNotNil(done.endedAtMs)
        XCTAssertEqual(done.pointCount, 6)
        XCTAssertGreaterThan(done.distanceM, 0)
        XCTAssertEqual(try store.trackOf(patrolId: done.id).count, 6)
        XCTAssertNil(try store.activePatrol())
    }

    func testCaseWithPhotoIsDraftedAndSubmitted() throws {
        let draft = try store.draftCase(input: CaseInput(
            typeCode: "0203", urgency: .urgent, gridCode: grid, description: "楼道内电动车充电",
            location: GeoPoint(lat: 37.7802, lng: 107.4002)))
        XCTAssertEqual(draft.status, .draft)
        XCTAssertEqual(draft.categoryCode, "02")

        let photo = try store.addPhoto(owner: .case(id: draft.id), bytes: pngBytes, fallbackTakenAtMs: nowMs())
        XCTAssertEqual(photo.mime, "image/jpeg")
        XCTAssertEqual(photo.width, 32)
        XCTAssertTrue(FileManager.default.fileExists(atPath: photo.path ?? ""))
        XCTAssertEqual(photo.uploadState, .pending)

        guard case let .Validation(field, code, _, _, _)? = gridwalkError({
            try store.addPhoto(owner: .case(id: draft.id), bytes: Data("GIF89a-not-really".utf8))
        }) else { return XCTFail("not a validation error") }
        XCTAssertEqual(field, "photo")
        XCTAssertEqual(code, .unsupportedFormat)

        let sent = try store.submitCase(id: draft.id)
        XCTAssertEqual(sent.status, .submitted)
        XCTAssertEqual(sent.photos.map(\.id), [photo.id])
        XCTAssertEqual(sent.events.map(\.kind), [.created, .photoAdded, .submitted])
        guard case let .InvalidState(_, _, state, _, _, _)? = gridwalkError({
            try store.updateDraft(id: draft.id, input: CaseInput(typeCode: "0203", urgency: .normal, gridCode: grid))
        }) else { return XCTFail("not InvalidState") }
        XCTAssertEqual(state, "submitted")
    }

    func testThePhoneLibraryEncryptsAndAWrongKeyDeletesNothing() throws {
        XCTAssertNotNil(cipherVersion(), "the library the suites load is the phone build, with SQLCipher")
        let path = dir.appendingPathComponent("secret.db").path
        let secret = try GridwalkStore.openWithKey(path: path, key: "right key")
        try secret.upsertOrgUnits(units: [OrgUnit(code: grid, name: "幸福社区第1网格", level: .grid, isMine: true)])
        let h = try secret.addHousehold(input: HouseholdInput(
            gridCode: grid, address: Address(community: "幸福社区", building: "3栋", room: "502"),
            housingType: .owned, careTier: .close))
        _ = try secret.addResident(input: resident(h.id, "王建国", .head, idNumber: idHead))
        secret.closeStore()
        let raw = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertFalse(raw.starts(with: Data("SQLite format 3".utf8)))

        guard case .Encryption? = gridwalkError({ try GridwalkStore.openWithKey(path: path, key: "wrong key") }) else {
            return XCTFail("a wrong key is an Encryption error")
        }
        guard case .NotAStore? = gridwalkError({ try GridwalkStore.open(path: path) }) else {
            return XCTFail("an encrypted store opened without its key is refused untouched")
        }
        XCTAssertEqual(raw, try Data(contentsOf: URL(fileURLWithPath: path)))

        let again = try GridwalkStore.openWithKey(path: path, key: "right key")
        XCTAssertEqual(try again.search(query: "王建国", limit: 5).map(\.title), ["王建国"])
        again.closeStore()
    }

    func testTodayListHoldsTaskAndPatrolQuota() throws {
        let h = try household()
        let task = try store.addTask(input: TaskInput(
            kind: .callBack, title: "回访王阿姨", dueOn: try store.localToday(), priority: .high, source: .own,
            target: TaskTarget(kind: "household", id: h.id)))
        let items = try store.today(position: GeoPoint(lat: 37.78, lng: 107.40))
        let mine = items.filter { $0.kind == .task }
        XCTAssertEqual(mine.map(\.targetId), [task.id])
        XCTAssertTrue(items.contains { $0.kind == .visitDue && $0.targetId == h.id })
        XCTAssertTrue(items.contains { $0.kind == .patrol })

        let done = try store.finishTask(id: task.id, status: .done)
        XCTAssertNotNil(done.completedAtMs)
        XCTAssertFalse(try store.today().contains { $0.kind == .task })
    }

    func testVocabulariesAndClosedStore() throws {
        XCTAssertEqual(CareTier.close.labelZh(), "连心户")
        XCTAssertTrue(caseTypes().contains { $0.code == "0203" && $0.labelZh == "电动车违规充电" })
        store.closeStore()
        XCTAssertTrue(store.isClosed())
        guard case .Closed? = gridwalkError({ try store.myGrids() }) else { return XCTFail("not Closed") }
    }
}
