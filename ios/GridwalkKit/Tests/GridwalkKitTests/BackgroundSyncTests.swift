// Background sync as the BGTaskScheduler handlers run it: iOS ending the task mid-run cancels
// the sync through the core's cancel handle, nothing is lost, the next task finishes the job;
// the next tasks are scheduled, a processing task only while photo files wait.
import Foundation
import XCTest

@testable import GridwalkCore
@testable import GridwalkKit

final class BackgroundSyncTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try scratchDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    @MainActor
    func testExpiredTaskCancelsTheSyncAndTheNextTaskFinishesIt() async throws {
        let url = try serverUrl()
        let repo = try await Repository.open(directory: dir, keyStore: MemoryKeyStore())
        defer { repo.close() }
        _ = try await repo.call { try $0.login(serverUrl: url, username: workerName, password: demoPassword, deviceName: "xctest bg") }
        for room in ["101", "102", "103"] {
            _ = try await repo.call {
                try $0.addHousehold(input: HouseholdInput(
                    gridCode: grid, address: Address(community: "幸福社区", building: "7栋", room: room),
                    housingType: .rented, careTier: .routine))
            }
        }
        let before = SyncViewModel(repository: repo)
        await before.load()
        XCTAssertEqual(before.pendingCount, 3)

        // iOS expires the task as soon as the first request reports progress.
        let scheduler = FakeScheduler()
        let task = BackgroundSync(repository: repo, scheduler: scheduler, kind: .refresh)
        let outcome = await task.perform { _ in task.expire() }
        XCTAssertEqual(outcome, .cancelled)
        XCTAssertEqual(scheduler.refresh.count, 1, "the next refresh is asked for even after an expiry")

        let after = SyncViewModel(repository: repo)
        await after.load()
        XCTAssertNil(after.lastSyncMs, "a cancelled run is not a sync")
        XCTAssertEqual(after.attention, [])
        let households = try await repo.call { try $0.listHouseholds(filter: HouseholdFilter(gridCode: grid)) }
        XCTAssertEqual(households.count, 3, "nothing entered is lost")

        // The next task runs to the end.
        let next = BackgroundSync(repository: repo, scheduler: scheduler, kind: .processing)
        let done = await next.perform()
        guard case let .synced(records, files) = done else { return XCTFail("\(done)") }
        XCTAssertNotNil(files, "a processing task sends photo files too")
        XCTAssertEqual(records.rejected, 0)
        await after.load()
        XCTAssertEqual(after.pendingCount, 0)
        XCTAssertNotNil(after.lastSyncMs)
        XCTAssertEqual(scheduler.processing.count, 0, "no photo file waits")
    }

    @MainActor
    func testTheWorkerCancelsASyncFromTheScreen() async throws {
        let url = try serverUrl()
        let repo = try await Repository.open(directory: dir, keyStore: MemoryKeyStore())
        defer { repo.close() }
        _ = try await repo.call { try $0.login(serverUrl: url, username: workerName, password: demoPassword, deviceName: "xctest cancel") }
        _ = try await repo.call {
            try $0.addHousehold(input: HouseholdInput(
                gridCode: grid, address: Address(community: "幸福社区", building: "8栋"), housingType: .owned, careTier: .routine))
        }
        let sync = SyncViewModel(repository: repo)
        let run = _Concurrency.Task { await sync.syncNow() }
        // The run starts on the main actor and leaves it at its first core call: from then on
        // it is running. Yield (not sleep) so a fast sync is still caught running.
        for _ in 0..<10_000 where !sync.isSyncing { await _Concurrency.Task.yield() }
        XCTAssertTrue(sync.isSyncing)
        sync.cancel()
        let outcome = await run.value
        // The cancel lands at the next safe point: either before the push, or the run was
        // already past its last one. Both end with nothing lost.
        if outcome == .cancelled {
            XCTAssertGreaterThan(sync.pendingCount, 0)
            let again = await sync.syncNow()
            guard case .synced = again else { return XCTFail("\(again)") }
        }
        XCTAssertEqual(sync.pendingCount, 0)
        XCTAssertFalse(sync.isSyncing)
    }

    @MainActor
    func testAProcessingTaskIsAskedForWhilePhotoFilesWait() async throws {
        let repo = try await Repository.open(directory: dir, keyStore: MemoryKeyStore())
        defer { repo.close() }
        try await seedGrid(repo)
        let camera = FakeCamera()
        camera.willReturn(try jpegBytes())
        let draft = CaseDraftViewModel(repository: repo, camera: camera, location: nil, gridCode: grid)
        await draft.chooseSubType("0101")
        await draft.takePhoto()
        XCTAssertEqual(draft.photos.count, 1)
        let scheduler = FakeScheduler()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        await BackgroundSync(repository: repo, scheduler: scheduler, kind: .refresh).scheduleNext(now: now)
        XCTAssertEqual(scheduler.refresh, [now.addingTimeInterval(BackgroundSync.refreshInterval)])
        XCTAssertEqual(scheduler.processing.count, 1)
        XCTAssertEqual(BackgroundSync.Kind(taskIdentifier: BackgroundSync.processingTaskId), .processing)
        XCTAssertEqual(BackgroundSync.Kind(taskIdentifier: BackgroundSync.refreshTaskId), .refresh)
        XCTAssertNil(BackgroundSync.Kind(taskIdentifier: "other"))
    }
}
