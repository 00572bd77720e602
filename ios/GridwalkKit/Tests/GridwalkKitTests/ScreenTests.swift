// Each screen's view model on its own: households (search, browse, care-tier filter), the
// visit's one-tap "not at home" and its refusals, the resident form's edit and duplicate, case
// draft refusals, the daily list's one-tap actions, statistics by period, and the sync screen's
// "needs attention" (retry, discard) and conflicts against the real server.
import Foundation
import XCTest

@testable import GridwalkCore
@testable import GridwalkKit

final class ScreenTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try scratchDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func open() async throws -> Repository {
        let repo = try await Repository.open(directory: dir, keyStore: MemoryKeyStore())
        try await seedGrid(repo)
        return repo
    }

    func addHousehold(_ repo: Repository, _ building: String, _ unit: String?, _ floor: Int32?, _ room: String, _ tier: CareTier) async throws -> Household {
        try await repo.call {
            try $0.addHousehold(input: HouseholdInput(
                gridCode: grid, address: Address(community: "幸福社区", building: building, unit: unit, floor: floor, room: room),
                housingType: .owned, careTier: tier))
        }
    }

    @MainActor
    func testHouseholdsSearchBrowseAndFilter() async throws {
        let repo = try await open()
        defer { repo.close() }
        let a = try await addHousehold(repo, "1栋", "1单元", 1, "101", .routine)
        let b = try await addHousehold(repo, "1栋", "1单元", 2, "201", .close)
        let c = try await addHousehold(repo, "1栋", "2单元", 3, "301", .attention)
        let d = try await addHousehold(repo, "2栋", nil, nil, "门面", .close)
        _ = try await repo.call {
            try $0.addResident(input: ResidentInput(householdId: b.id, name: "李秀英", relation: .head, residency: .registered, phone: "13912345678"))
        }

        let vm = HouseholdsViewModel(repository: repo)
        await vm.load()
        XCTAssertEqual(vm.buildings, ["1栋", "2栋"])
        vm.chooseBuilding("1栋")
        XCTAssertEqual(vm.units, ["1单元", "2单元"])
        XCTAssertEqual(Set(vm.browsed.map(\.id)), [a.id, b.id, c.id])
        vm.chooseUnit("1单元")
        XCTAssertEqual(vm.floors, [1, 2])
        vm.chooseFloor(2)
        XCTAssertEqual(vm.browsed.map(\.id), [b.id])
        vm.chooseBuilding("2栋")
        XCTAssertEqual(vm.units, [""], "a building without units")
        vm.chooseUnit("")
        XCTAssertEqual(vm.floors, [])
        XCTAssertEqual(vm.browsed.map(\.id), [d.id])

        // Any fragment: part of a name, of a phone number.
        await vm.searchTyped("秀英")
        XCTAssertEqual(vm.hits.map(\.householdId), [b.id])
        await vm.searchTyped("2345")
        XCTAssertEqual(vm.hits.first?.householdId, b.id)
        await vm.searchTyped("")
        XCTAssertEqual(vm.hits, [])

        // Only 连心户.
        await vm.chooseCareTier(.close)
        XCTAssertEqual(Set(vm.households.map(\.id)), [b.id, d.id])
        XCTAssertEqual(vm.buildings, ["1栋", "2栋"])
        await vm.searchTyped("1栋")
        XCTAssertTrue(vm.hits.allSatisfy { [b.id, d.id].contains($0.householdId) })
        await vm.chooseCareTier(.attention)
        XCTAssertEqual(vm.households.map(\.id), [c.id])
        XCTAssertNil(vm.building, "the chosen building has none of them")
        await vm.chooseCareTier(nil)
        XCTAssertEqual(vm.households.count, 4)
        XCTAssertEqual(CareTier.close.label(.zhHans), "连心户")
    }

    @MainActor
    func testVisitNotAtHomeInOneTapAndRefusals() async throws {
        let repo = try await open()
        defer { repo.close() }
        let h = try await addHousehold(repo, "5栋", "1单元", 3, "301", .close)
        let vm = VisitViewModel(repository: repo, householdId: h.id)
        let ok = await vm.notAtHome()
        XCTAssertTrue(ok)
        XCTAssertEqual(vm.saved?.mode, .notAtHome)
        XCTAssertEqual(vm.saved?.outcome, .noContact)

        let future = VisitViewModel(repository: repo, householdId: h.id)
        let refused = await future.save(at: Date().addingTimeInterval(86_400))
        XCTAssertFalse(refused)
        XCTAssertEqual(future.fieldErrors["visited_at"]?.code, "future_date")

        let nowhere = VisitViewModel(repository: repo, householdId: "no-such-household")
        _ = await nowhere.save()
        XCTAssertNotNil(nowhere.fieldErrors.byField.values.first ?? nowhere.error)

        let detail = HouseholdDetailViewModel(repository: repo, householdId: h.id)
        await detail.load()
        XCTAssertEqual(detail.visits.count, 1, "the refused visits left nothing")
        XCTAssertEqual(detail.visits.first?.syncStatus.label(.zhHans).isEmpty, false)
    }

    @MainActor
    func testResidentFormEditsAndShowsDuplicatesOnTheirField() async throws {
        let repo = try await open()
        defer { repo.close() }
        let h1 = try await addHousehold(repo, "6栋", nil, nil, "1", .routine)
        let h2 = try await addHousehold(repo, "6栋", nil, nil, "2", .routine)
        let form = ResidentFormViewModel(repository: repo, householdId: h1.id)
        form.name = "张伟"
        form.phone = "139 1234 5678"
        await form.setIdNumber(idGood)
        let saved = await form.save()
        XCTAssertTrue(saved)
        let id = try XCTUnwrap(form.saved?.id)

        // The same number in another household: refused on the field, naming the household.
        let other = ResidentFormViewModel(repository: repo, householdId: h2.id)
        other.name = "张伟"
        await other.setIdNumber(idGood)
        XCTAssertNil(other.fieldErrors["id_number"], "a valid number while typing")
        let dup = await other.save()
        XCTAssertFalse(dup)
        XCTAssertEqual(other.fieldErrors["id_number"]?.code, "duplicate")
        XCTAssertEqual(other.fieldErrors["id_number"]?.existingHouseholdId, h1.id)

        // A bad phone and a blank name show on their own fields.
        let bad = ResidentFormViewModel(repository: repo, householdId: h2.id)
        bad.name = "赵六"
        bad.phone = "12abc"
        bad.gender = .female
        bad.birthDate = "1990-02-03"
        let badSaved = await bad.save()
        XCTAssertFalse(badSaved)
        XCTAssertEqual(bad.fieldErrors["phone"]?.code, "invalid_format")

        // A short number is an error once the field is left.
        await bad.setIdNumber("6403231")
        XCTAssertNil(bad.fieldErrors["id_number"])
        await bad.idNumberFinished()
        XCTAssertEqual(bad.fieldErrors["id_number"]?.code, "invalid_format")

        // Edit: loaded from the store, changed, saved.
        let edit = ResidentFormViewModel(repository: repo, householdId: h1.id)
        await edit.edit(residentId: id)
        XCTAssertEqual(edit.idNumber, idGood)
        XCTAssertEqual(edit.phone, "13912345678")
        XCTAssertTrue(edit.filledFromIdNumber)
        edit.name = "张伟明"
        edit.toggle(.elderlyAlone)
        edit.toggle(.veteran)
        edit.toggle(.elderlyAlone)
        XCTAssertEqual(edit.specialGroups, [.veteran])
        let edited = await edit.save()
        XCTAssertTrue(edited, "\(edit.fieldErrors.byField)")
        let stored = try await repo.call { try $0.getResident(id: id) }
        XCTAssertEqual(stored.name, "张伟明")
        XCTAssertEqual(stored.specialGroups, [.veteran])
        XCTAssertEqual(stored.idNumber, idGood)
        XCTAssertEqual(HouseholdDetailViewModel.masked(phone: stored.phone), "139****5678")
        XCTAssertEqual(HouseholdDetailViewModel.masked(idNumber: "1234"), "****")
    }

    @MainActor
    func testCaseDraftRefusalsAndDiscard() async throws {
        let repo = try await open()
        defer { repo.close() }
        let camera = FakeCamera()
        let draft = CaseDraftViewModel(repository: repo, camera: camera, location: FakeLocation(), gridCode: grid)
        let saved = await draft.saveDraft()
        XCTAssertFalse(saved)
        XCTAssertEqual(draft.fieldErrors["type_code"]?.code, "required")
        await draft.useCurrentLocation()
        XCTAssertEqual(draft.fieldErrors["location"]?.code, "required", "no fix yet")

        draft.chooseCategory("03")
        XCTAssertNil(draft.typeCode)
        let sub = try XCTUnwrap(draft.subTypes.first)
        await draft.chooseSubType(sub.code)
        XCTAssertNil(draft.fieldErrors["type_code"])
        // Incomplete: no description, no place.
        let submitted = await draft.submit()
        XCTAssertFalse(submitted)
        XCTAssertFalse(draft.fieldErrors.isEmpty)
        XCTAssertEqual(draft.status, .draft)

        // The camera cancelled: nothing added.
        await draft.takePhoto()
        XCTAssertEqual(draft.photos, [])
        // Not a JPEG or PNG (e.g. HEIC that was not converted): refused on the photo.
        camera.willReturn(Data("ftypheic-not-really".utf8))
        await draft.takePhoto()
        XCTAssertEqual(draft.fieldErrors["photo"]?.code, "unsupported_format")

        await draft.discard()
        XCTAssertNil(draft.caseId)
        let drafts = try await repo.call { try $0.listCases(status: .draft) }
        XCTAssertEqual(drafts, [])
    }

    @MainActor
    func testTodayActsInOneTapAndStatsByPeriod() async throws {
        let repo = try await open()
        defer { repo.close() }
        let h = try await addHousehold(repo, "9栋", nil, nil, "1", .close)
        let day = try await repo.call { try $0.localToday() }
        let call = try await repo.call {
            try $0.addTask(input: TaskInput(kind: .callBack, title: "回访", dueOn: day, priority: .high, source: .own,
                                            target: TaskTarget(kind: "household", id: h.id)))
        }
        let note = try await repo.call {
            try $0.addTask(input: TaskInput(kind: .custom, title: "交表", dueOn: day, priority: .low, source: .own))
        }
        let resident = try await repo.call {
            try $0.addResident(input: ResidentInput(householdId: h.id, name: "周梅", relation: .head, residency: .registered, gender: .female, birthDate: "1950-05-05"))
        }
        let collect = try await repo.call {
            try $0.addTask(input: TaskInput(kind: .collectInfo, title: "核对信息", dueOn: day, priority: .normal, source: .own,
                                            target: TaskTarget(kind: "resident", id: resident.id)))
        }
        let china = DateFormatter()
        china.dateFormat = "yyyy-MM-dd"
        china.timeZone = TimeZone(secondsFromGMT: 8 * 3600)
        let twoDaysAgo = china.string(from: Date().addingTimeInterval(-2 * 86_400))
        _ = try await repo.call {
            try $0.addTask(input: TaskInput(kind: .custom, title: "上周的表", dueOn: twoDaysAgo, priority: .normal, source: .own))
        }
        let today = TodayViewModel(repository: repo, location: nil)
        await today.load()
        XCTAssertEqual(today.day, day)
        XCTAssertEqual(today.overdueCount, 1)
        let late = try XCTUnwrap(today.rows.first { $0.isOverdue })
        XCTAssertEqual(late.overdueBadge(.zhHans), "逾期 2 天")
        XCTAssertNil(today.rows.first { !$0.isOverdue }?.overdueBadge(.zhHans))
        let callRow = try XCTUnwrap(today.rows.first { $0.item.targetId == call.id })
        let opensHousehold = await today.act(callRow)
        XCTAssertEqual(opensHousehold, .household(id: h.id))
        let collectRow = try XCTUnwrap(today.rows.first { $0.item.targetId == collect.id })
        let opensResidentsHousehold = await today.act(collectRow)
        XCTAssertEqual(opensResidentsHousehold, .household(id: h.id), "a resident's task opens the household")
        // A reminder about nothing in particular is done in one tap.
        let noteRow = try XCTUnwrap(today.rows.first { $0.item.targetId == note.id })
        let opensNothing = await today.act(noteRow)
        XCTAssertNil(opensNothing)
        XCTAssertNil(today.navigateTo)
        XCTAssertFalse(today.rows.contains { $0.item.targetId == note.id })
        let doneTask = try await repo.call { try $0.getTask(id: note.id) }
        XCTAssertEqual(doneTask.status, .done)
        XCTAssertTrue(today.rows.contains { $0.item.targetId == call.id }, "the others stay")

        XCTAssertEqual(Format.overdue(days: 3, .zhHans), "逾期 3 天")
        XCTAssertEqual(Format.overdue(days: 1, .english), "1 day overdue")
        XCTAssertNil(Format.overdue(days: 0, .english))
        XCTAssertEqual(Format.distance(1234, .zhHans), "1.2 公里")
        XCTAssertEqual(Format.distance(87.4, .english), "87 m")
        XCTAssertEqual(Format.duration(seconds: 3725), "1:02:05")

        _ = try await repo.call {
            try $0.logVisit(input: VisitInput(householdId: h.id, visitedAtMs: epochMs() - 60_000, mode: .phone, outcome: .fine))
        }
        let stats = StatsViewModel(repository: repo)
        await stats.load()
        XCTAssertEqual(stats.period, .day)
        XCTAssertEqual(stats.stats?.visitsTotal, 1)
        XCTAssertEqual(stats.stats?.visitsByMode["phone"], 1)
        await stats.choosePeriod(.week)
        XCTAssertEqual(stats.stats?.period, .week)
        XCTAssertEqual(stats.stats?.visitsTotal, 1)
        await stats.choosePeriod(.month)
        XCTAssertEqual(stats.stats?.period, .month)
        XCTAssertLessThanOrEqual(stats.stats?.firstDay ?? "", day)
        XCTAssertEqual(stats.patrolDistance(.english), "0 m")
    }

    @MainActor
    func testNeedsAttentionRetryAndDiscardAndConflicts() async throws {
        let url = try serverUrl()
        let repo = try await Repository.open(directory: dir, keyStore: MemoryKeyStore())
        defer { repo.close() }
        _ = try await repo.call { try $0.login(serverUrl: url, username: workerName, password: demoPassword, deviceName: "xctest attention") }
        // A grid this worker does not hold: the server refuses what is filed there.
        let foreign = "640323001001002"
        try await repo.call {
            try $0.upsertOrgUnits(units: [OrgUnit(code: foreign, name: "幸福社区第2网格", level: .grid, parentCode: community, isMine: true)])
        }
        let mine = try await repo.call {
            try $0.addHousehold(input: HouseholdInput(gridCode: grid, address: Address(community: "幸福社区", building: "11栋"), housingType: .owned, careTier: .routine))
        }
        for building in ["12栋", "13栋"] {
            _ = try await repo.call {
                try $0.addHousehold(input: HouseholdInput(gridCode: foreign, address: Address(community: "幸福社区", building: building), housingType: .owned, careTier: .routine))
            }
        }
        let sync = SyncViewModel(repository: repo)
        let outcome = await sync.syncNow()
        guard case let .synced(report, _) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(report.rejected, 2)
        XCTAssertEqual(sync.attention.count, 2)
        XCTAssertEqual(sync.needsAttentionCount, 2)
        XCTAssertTrue(sync.attention.allSatisfy { !$0.code.isEmpty && !$0.serverMessage.isEmpty })

        // Retry one (refused again: still there), discard the other (gone, the record stays).
        let first = sync.attention[0], second = sync.attention[1]
        await sync.retry(first)
        XCTAssertNil(sync.error)
        XCTAssertEqual(sync.attention.count, 1, "queued again")
        _ = await sync.syncNow()
        XCTAssertEqual(sync.attention.count, 2, "refused again")
        await sync.discard(second)
        XCTAssertEqual(sync.attention.map(\.changeId), [first.changeId])
        let kept = try await repo.call { try $0.getHousehold(id: second.entityId) }
        XCTAssertEqual(kept.gridCode, foreign, "discarding never deletes the worker's record")

        // A conflict: a second device of the worker changes the same field first.
        let tabletDir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: tabletDir) }
        let tablet = try await Repository.open(directory: tabletDir, keyStore: MemoryKeyStore())
        defer { tablet.close() }
        _ = try await tablet.call { try $0.login(serverUrl: url, username: workerName, password: demoPassword, deviceName: "xctest tablet") }
        _ = try await tablet.call { try $0.sync(listener: nil, cancel: nil) }
        _ = try await tablet.call { try $0.updateHousehold(id: mine.id, patch: HouseholdPatch(notes: "平板填写")) }
        _ = try await repo.call { try $0.updateHousehold(id: mine.id, patch: HouseholdPatch(notes: "手机填写")) }
        _ = try await tablet.call { try $0.sync(listener: nil, cancel: nil) }
        _ = await sync.syncNow()
        _ = await sync.syncNow()
        let conflict = try XCTUnwrap(sync.conflicts.first { $0.entityId == mine.id }, "\(sync.conflicts)")
        XCTAssertEqual(conflict.field, "notes")
        XCTAssertEqual(Set([conflict.keptValueText, conflict.lostValueText]), ["平板填写", "手机填写"])
        await sync.resolve(conflict, .custom(valueJson: "\"两台设备都写了\""))
        XCTAssertNil(sync.error)
        XCTAssertFalse(sync.conflicts.contains { $0.id == conflict.id })
        let resolved = try await repo.call { try $0.getHousehold(id: mine.id) }
        XCTAssertEqual(resolved.notes, "两台设备都写了")
    }
}
