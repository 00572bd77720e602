// BGTaskScheduler: a refresh task (records) and a processing task (records and photo files,
// needs the network). Each runs GridwalkKit's `BackgroundSync`; when iOS expires the task, the
// expiration handler cancels the sync through the core's cancel handle.
import BackgroundTasks
import Foundation
import GridwalkCore
import GridwalkKit

struct BGTaskSchedulerAdapter: BackgroundScheduler {
    func scheduleRefresh(earliest: Date) throws {
        let request = BGAppRefreshTaskRequest(identifier: BackgroundSync.refreshTaskId)
        request.earliestBeginDate = earliest
        try BGTaskScheduler.shared.submit(request)
    }

    func scheduleProcessing(earliest: Date) throws {
        let request = BGProcessingTaskRequest(identifier: BackgroundSync.processingTaskId)
        request.earliestBeginDate = earliest
        request.requiresNetworkConnectivity = true
        try BGTaskScheduler.shared.submit(request)
    }
}

/// The sync of one background task, reachable from its expiration handler whether or not the
/// store has been opened yet.
private final class TaskSync: @unchecked Sendable {
    private let lock = NSLock()
    private var sync: BackgroundSync?
    private var expired = false

    func attach(_ sync: BackgroundSync) {
        lock.lock(); self.sync = sync; let late = expired; lock.unlock()
        if late { sync.expire() }
    }

    func expire() {
        lock.lock(); expired = true; let s = sync; lock.unlock()
        s?.expire()
    }
}

enum BackgroundTasksRegistration {
    /// Registers both handlers; call once, before the app finishes launching. `repository`
    /// opens the store (with the Keychain's key) when a task starts.
    static func register(repository: @escaping @Sendable () async throws -> Repository) {
        for id in [BackgroundSync.refreshTaskId, BackgroundSync.processingTaskId] {
            BGTaskScheduler.shared.register(forTaskWithIdentifier: id, using: nil) { task in
                let holder = TaskSync()
                // Set first: iOS may end the task while the store is still opening.
                task.expirationHandler = { holder.expire() }
                _Concurrency.Task {
                    guard let repo = try? await repository() else {
                        task.setTaskCompleted(success: false)
                        return
                    }
                    let sync = BackgroundSync(repository: repo, scheduler: BGTaskSchedulerAdapter(), kind: BackgroundSync.Kind(taskIdentifier: id) ?? .refresh)
                    holder.attach(sync)
                    let outcome = await sync.perform()
                    if case .synced = outcome { task.setTaskCompleted(success: true) } else { task.setTaskCompleted(success: false) }
                }
            }
        }
    }
}
