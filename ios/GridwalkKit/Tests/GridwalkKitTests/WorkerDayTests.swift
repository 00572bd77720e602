// A grid worker's day through the view models, against the real library and the real sync
// server that scripts/test-ios.sh starts: sign in → today → a resident with a wrong ID number
// (the error on its field) → fixed → a visit → a patrol fed with fixes → a case with a photo →
// sync with progress → the leader sends the case back for verification (the server's HTTP API,
// as 赵敏) → it arrives → after-photo → confirmed → synced, verified. The same steps as the
// Android app's view-model suite.
import Foundation
import XCTest

@testable import GridwalkCore
@testable import GridwalkKit

final class WorkerDayTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try scratchDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    @MainActor
    func testWorkersDayFromSignInToVerifiedCase() async throws {
        let url = try serverUrl()
        let keys = MemoryKeyStore()
        let repo = try await Repository.open(directory: dir, keyStore: keys)
        defer { repo.close() }
        let gps = FakeLocation()
        gps.current = LocationFix(lat: 37.7801, lng: 107.4001, accuracyM: 5, atMs: epochMs())
        let camera = FakeCamera()
        let jpeg = try jpegBytes()

        // Sign in: a wrong password shows under the password field, then the right one works.
        let signIn = SignInViewModel(repository: repo, defaultServerUrl: url)
        signIn.username = workerName
        signIn.password = "not-her-password"
        let refused = await signIn.signIn()
        XCTAssertFalse(refused)
        XCTAssertEqual(signIn.fieldErrors["password"]?.code, "bad_credentials")
        XCTAssertNil(signIn.session)
        signIn.password = demoPassword
        let signedIn = await signIn.signIn(deviceName: "xctest iPhone")
        XCTAssertTrue(signedIn, "\(String(describing: signIn.error))")
        XCTAssertEqual(signIn.session?.grids.contains(grid), true)
        XCTAssertEqual(signIn.password, "", "the password is not kept on screen")

        // A household of the grid, registered earlier (e.g. from the ledger), in 连心户 care.
        let household = try await repo.call {
            try $0.addHousehold(input: HouseholdInput(
                gridCode: grid, address: Address(community: "幸福社区", building: "3栋", unit: "2单元", floor: 5, room: "502"),
                housingType: .owned, careTier: .close, location: GeoPoint(lat: 37.7803, lng: 107.4003)))
        }

        // Today: the household is due for a visit, with its distance; one tap opens it.
        let today = TodayViewModel(repository: repo, location: gps)
        await today.load()
        XCTAssertNil(today.error)
        XCTAssertFalse(today.day.isEmpty)
        let visitRow = try XCTUnwrap(today.rows.first { $0.item.kind == .visitDue && $0.item.targetId == household.id })
        XCTAssertNotNil(visitRow.distance(.zhHans))
        XCTAssertTrue(visitRow.distance(.english)?.hasSuffix(" m") ?? false)
        XCTAssertTrue(today.rows.contains { $0.item.kind == .patrol }, "the patrol quota")
        let tapped = await today.act(visitRow)
        XCTAssertEqual(tapped, .visit(householdId: household.id))
        XCTAssertEqual(today.navigateTo, .visit(householdId: household.id))
        today.navigationDone()
        XCTAssertNil(today.navigateTo)

        // Household detail → resident form: the wrong ID number is refused on its field as typed.
        let detail = HouseholdDetailViewModel(repository: repo, householdId: household.id)
        await detail.load()
        XCTAssertEqual(detail.household?.addressLine, "幸福社区 3栋 2单元 502")
        XCTAssertEqual(detail.residents, [])

        let form = ResidentFormViewModel(repository: repo, householdId: household.id)
        form.name = "王建国"
        await form.setIdNumber(String(idBadChecksum.prefix(10)))
        XCTAssertNil(form.fieldErrors["id_number"], "no error while half typed")
        await form.setIdNumber(idBadChecksum)
        XCTAssertEqual(form.fieldErrors["id_number"]?.code, "invalid_checksum")
        XCTAssertEqual(form.fieldErrors["id_number"]?.message(.zhHans), "身份证号校验位错误")
        let savedBad = await form.save()
        XCTAssertFalse(savedBad)
        XCTAssertEqual(form.fieldErrors["id_number"]?.code, "invalid_checksum", "saving says the same, on the same field")
        await form.setIdNumber(idGood)
        XCTAssertNil(form.fieldErrors["id_number"])
        XCTAssertEqual(form.gender, .male)
        XCTAssertEqual(form.birthDate, "1980-01-01")
        XCTAssertTrue(form.filledFromIdNumber)
        let savedGood = await form.save()
        XCTAssertTrue(savedGood, "\(form.fieldErrors.byField)")
        XCTAssertEqual(form.saved?.birthDate, "1980-01-01")
        await detail.load()
        XCTAssertEqual(detail.residents.map(\.name), ["王建国"])
        XCTAssertEqual(detail.residents.first?.syncStatus, .localOnly, "badge: not sent yet")
        XCTAssertEqual(HouseholdDetailViewModel.masked(idNumber: detail.residents.first?.idNumber), "640323********1235")

        // A visit, in person.
        let visit = VisitViewModel(repository: repo, householdId: household.id)
        visit.mode = .inPerson
        visit.outcome = .fine
        visit.notes = "身体健康"
        let visited = await visit.save()
        XCTAssertTrue(visited)
        await detail.load()
        XCTAssertEqual(detail.visits.map(\.notes), ["身体健康"])
        await today.load()
        XCTAssertFalse(today.rows.contains { $0.item.kind == .visitDue && $0.item.targetId == household.id }, "visited: no longer due")

        // A patrol fed with fixes: live distance, time and fix count, then stopped.
        let patrol = PatrolViewModel(repository: repo, location: gps, gridCode: grid)
        await patrol.resume()
        XCTAssertEqual(patrol.grids.map(\.code), [grid], "her grids, from the session")
        XCTAssertFalse(patrol.isRunning)
        await patrol.start()
        XCTAssertNil(patrol.error)
        XCTAssertTrue(patrol.isRunning)
        XCTAssertTrue(gps.isRunning)
        let started = try XCTUnwrap(patrol.patrol?.startedAtMs)
        gps.walk(walkingFixes(count: 8, startMs: started + 1000))
        await eventually("8 fixes on screen") { patrol.fixEvents == 8 }
        await patrol.refresh()
        XCTAssertEqual(patrol.fixesKept, 8)
        XCTAssertEqual(patrol.pointCount, 8)
        XCTAssertGreaterThan(patrol.distanceM, 10)
        XCTAssertGreaterThanOrEqual(patrol.elapsedSeconds(at: Date(timeIntervalSince1970: Double(started) / 1000 + 65)), 65)
        patrol.notes = " 午巡 "
        await patrol.stop()
        XCTAssertFalse(patrol.isRunning)
        XCTAssertFalse(gps.isRunning, "GPS stops with the patrol")
        XCTAssertEqual(patrol.finished?.pointCount, 8)
        XCTAssertEqual(patrol.finished?.notes, "午巡")

        // A case with a photo: category → sub-type, urgency, description, location, submit.
        let draft = CaseDraftViewModel(repository: repo, camera: camera, location: gps, gridCode: grid)
        XCTAssertEqual(draft.categories.count, 6)
        draft.chooseCategory("02")
        XCTAssertTrue(draft.subTypes.contains { $0.code == "0203" && $0.labelZh == "电动车违规充电" })
        XCTAssertTrue(draft.subTypes.allSatisfy { $0.categoryCode == "02" })
        await draft.chooseSubType("0203")
        XCTAssertNotNil(draft.caseId, "saved as a draft once it has a type")
        draft.setUrgency(.urgent)
        draft.setDescription("楼道内电动车充电")
        await draft.useCurrentLocation()
        camera.willReturn(jpeg)
        await draft.takePhoto()
        XCTAssertEqual(draft.photos.count, 1)
        XCTAssertEqual(draft.photos.first?.mime, "image/jpeg")
        let submitted = await draft.submit()
        XCTAssertTrue(submitted, "\(draft.fieldErrors.byField) \(String(describing: draft.error))")
        XCTAssertEqual(draft.status, .submitted)
        let caseId = try XCTUnwrap(draft.caseId)

        // Sync with progress: records, then the photo file.
        let sync = SyncViewModel(repository: repo)
        await sync.load()
        XCTAssertNil(sync.lastSyncMs)
        XCTAssertGreaterThan(sync.pendingCount, 0)
        XCTAssertEqual(sync.lastSyncText(.zhHans), "从未同步")
        let outcome = await sync.syncNow()
        guard case let .synced(records, files) = outcome else { return XCTFail("sync: \(outcome)") }
        XCTAssertGreaterThan(records.pushed, 0)
        XCTAssertEqual(records.rejected, 0)
        XCTAssertEqual((files?.uploaded ?? 0) + (files?.alreadyOnServer ?? 0), 1)
        XCTAssertTrue(sync.progressLog.contains { $0.phase == .push && $0.total != nil })
        XCTAssertEqual(sync.progress?.phase, .upload, "the photo file goes last")
        XCTAssertEqual(sync.fractionDone, 1)
        XCTAssertFalse(sync.isSyncing)
        XCTAssertTrue(sync.progressLog.contains { $0.phase == .upload })
        XCTAssertEqual(sync.pendingCount, 0)
        XCTAssertNotNil(sync.lastSyncMs)
        XCTAssertEqual(sync.lastSyncText(.english), "synced just now")
        XCTAssertEqual(sync.attention, [])
        await detail.load()
        XCTAssertEqual(detail.residents.first?.syncStatus, .synced, "badge: synced")
        XCTAssertEqual(detail.visits.first?.syncStatus, .synced)
        XCTAssertEqual(detail.household?.syncStatus, .synced)
        XCTAssertEqual(detail.household?.syncStatus.label(.zhHans).isEmpty, false)

        // The leader accepts, dispatches, handles and sends the case back for verification.
        let leader = try await Leader.signIn(url)
        try await leader.act(caseId, "accept")
        try await leader.act(caseId, "dispatch", assignee: "社区物业")
        try await leader.act(caseId, "handle")
        let requested = try await leader.act(caseId, "request_verification")
        XCTAssertEqual(requested, "verification_requested")

        // It arrives with the next sync: a verification task, a line of the daily list.
        let arrived = await sync.syncNow()
        guard case .synced = arrived else { return XCTFail("sync: \(arrived)") }
        let cases = CasesViewModel(repository: repo)
        await cases.load()
        XCTAssertEqual(cases.awaitingVerification.map(\.id), [caseId])
        XCTAssertEqual(cases.verificationTasks.map { $0.target?.id }, [caseId])
        await today.load()
        var opened: [TodayDestination?] = []
        for row in today.rows where row.item.kind == .task || row.item.kind == .verifyCase {
            opened.append(await today.act(row))
        }
        XCTAssertTrue(opened.contains(.verifyCase(caseId: caseId)), "\(opened)")

        // On site: an after-photo, then confirmed.
        let verify = CaseDetailViewModel(repository: repo, camera: camera, caseId: caseId)
        await verify.load()
        XCTAssertTrue(verify.canVerify)
        camera.willReturn(jpeg)
        await verify.takeAfterPhoto()
        XCTAssertEqual(verify.afterPhotos.count, 1)
        // "Not fixed" needs a note saying why: refused on the note field, nothing sent.
        let rejectedWithoutNote = await verify.reject()
        XCTAssertFalse(rejectedWithoutNote)
        XCTAssertEqual(verify.fieldErrors["note"]?.code, "required")
        XCTAssertTrue(verify.canVerify)
        verify.note = "已清理，充电线已拆除"
        let confirmed = await verify.confirm()
        XCTAssertTrue(confirmed, "\(verify.fieldErrors.byField) \(String(describing: verify.error))")
        XCTAssertTrue(verify.verificationSent)
        XCTAssertFalse(verify.canVerify)
        await cases.load()
        XCTAssertEqual(cases.verificationTasks, [], "the task is done")

        let last = await sync.syncNow()
        guard case .synced = last else { return XCTFail("sync: \(last)") }
        await verify.load()
        XCTAssertEqual(verify.theCase?.status, .verified)
        XCTAssertTrue(verify.timeline.contains { $0.kind == .verification })
        XCTAssertEqual(sync.pendingCount, 0)
        XCTAssertEqual(sync.attention, [])

        // The day in numbers.
        let stats = StatsViewModel(repository: repo)
        await stats.load()
        XCTAssertEqual(stats.stats?.visitsTotal, 1)
        XCTAssertEqual(stats.stats?.casesTotal, 1)
        XCTAssertEqual(stats.stats?.patrolsTooShort, 1, "a one-minute walk does not count")
        XCTAssertEqual(stats.casesByCategory(.zhHans).map(\.count), [1])
        XCTAssertEqual(stats.casesByCategory(.zhHans).first?.label, caseTypes().first { $0.code == "02" }?.labelZh)
    }
}
