// Background sync: what the app's BGTaskScheduler handlers run. A refresh task syncs records; a
// processing task (network, may run longer) sends photo files too — both through `SyncRun`.
// When iOS ends the task early, its expiration handler calls `expire()`, which cancels the run
// through the core's cancel handle; the run stops at its next safe point with everything sent
// so far kept, and the next task carries on. Scheduling the next tasks is here too, so the
// policy is tested; the scheduler itself is the platform's.
import Foundation
import GridwalkCore

public final class BackgroundSync: Sendable {
    public static let refreshTaskId = "org.gridwalk.app.refresh"
    public static let processingTaskId = "org.gridwalk.app.sync"
    /// iOS runs refresh tasks at its discretion; asking for 15 minutes is the usual floor.
    public static let refreshInterval: TimeInterval = 15 * 60

    /// Which of the two tasks iOS started.
    public enum Kind: Sendable {
        /// BGAppRefreshTask: about 30 seconds, records only.
        case refresh
        /// BGProcessingTask: minutes, with the network; records, then photo files.
        case processing

        public init?(taskIdentifier: String) {
            switch taskIdentifier {
            case BackgroundSync.refreshTaskId: self = .refresh
            case BackgroundSync.processingTaskId: self = .processing
            default: return nil
            }
        }
    }

    private let repository: Repository
    private let scheduler: BackgroundScheduler
    private let run: SyncRun

    public init(repository: Repository, scheduler: BackgroundScheduler, kind: Kind) {
        self.repository = repository
        self.scheduler = scheduler
        self.run = SyncRun(repository: repository, includePhotos: kind == .processing)
    }

    /// Runs the task's sync. Returns whether it completed (the task's `success`).
    public func perform(progress: @escaping @Sendable (SyncProgress) -> Void = { _ in }) async -> SyncOutcome {
        let outcome = await run.run(progress: progress)
        await scheduleNext()
        return outcome
    }

    /// iOS is ending the task: stop the sync at its next safe point.
    public func expire() { run.cancel() }

    /// Asks for the next refresh, and for a processing task while photo files wait to upload.
    public func scheduleNext(now: Date = Date()) async {
        try? scheduler.scheduleRefresh(earliest: now.addingTimeInterval(Self.refreshInterval))
        let waiting = (try? await repository.call { try $0.photoStorageReport().pendingUploadCount }) ?? 0
        if waiting > 0 {
            try? scheduler.scheduleProcessing(earliest: now.addingTimeInterval(Self.refreshInterval))
        }
    }
}
