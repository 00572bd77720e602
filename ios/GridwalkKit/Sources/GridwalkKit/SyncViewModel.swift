// Sync (同步): when the last sync finished, how much waits to be sent, the progress of a run,
// the field conflicts to decide, and the changes the server refused ("needs attention") with
// retry or discard. A run is records first, then photo files; it can be cancelled (by the worker,
// or by iOS ending a background task) and loses nothing when it is.
import Foundation
import GridwalkCore
import Observation

/// Progress reports from the core's thread, forwarded to the main actor.
final class ProgressRelay: SyncProgressListener, @unchecked Sendable {
    private let forward: @Sendable (SyncProgress) -> Void
    init(_ forward: @escaping @Sendable (SyncProgress) -> Void) { self.forward = forward }
    func onProgress(progress: SyncProgress) { forward(progress) }
}

/// What a sync run ended with.
public enum SyncOutcome: Equatable, Sendable {
    /// Records synced; the photo files' report unless the run left them for later.
    case synced(SyncReport, UploadReport?)
    case cancelled
    case failed(AppError)
}

/// One sync run (records, then photo files) with its cancel handle. Shared by the sync screen
/// and the background tasks.
public final class SyncRun: Sendable {
    private let repository: Repository
    private let cancelHandle = CancelHandle()
    private let includePhotos: Bool

    /// `includePhotos`: send photo files after the records (false for a short background refresh).
    public init(repository: Repository, includePhotos: Bool = true) {
        self.repository = repository
        self.includePhotos = includePhotos
    }

    /// Asks the run to stop at its next safe point (any thread).
    public func cancel() { cancelHandle.cancel() }
    public var isCancelled: Bool { cancelHandle.isCancelled() }

    public func run(progress: @escaping @Sendable (SyncProgress) -> Void) async -> SyncOutcome {
        let relay = ProgressRelay(progress)
        let cancel = cancelHandle
        do {
            let records = try await repository.call { try $0.sync(listener: relay, cancel: cancel) }
            guard includePhotos else { return .synced(records, nil) }
            let files = try await repository.call { try $0.uploadPhotos(listener: relay, cancel: cancel) }
            return .synced(records, files)
        } catch {
            let e = AppError(error)
            return e.kind == .cancelled ? .cancelled : .failed(e)
        }
    }
}

@Observable @MainActor
public final class SyncViewModel {
    public private(set) var lastSyncMs: Int64?
    /// Records not yet on the server (never sent or changed since).
    public private(set) var pendingCount: Int64 = 0
    public private(set) var needsAttentionCount: Int64 = 0
    public private(set) var isSyncing = false
    public private(set) var progress: SyncProgress?
    /// Every progress report of the current or last run, in order.
    public private(set) var progressLog: [SyncProgress] = []
    public private(set) var lastOutcome: SyncOutcome?
    public private(set) var conflicts: [Conflict] = []
    public private(set) var attention: [AttentionItem] = []
    public private(set) var error: AppError?

    @ObservationIgnored private let repository: Repository
    @ObservationIgnored private var current: SyncRun?

    public init(repository: Repository) {
        self.repository = repository
    }

    public func lastSyncText(now: Date = Date(), _ language: Language) -> String {
        Format.lastSync(ms: lastSyncMs, now: now, language)
    }

    /// Fraction done of the current phase, when its total is known.
    public var fractionDone: Double? {
        guard let p = progress, let total = p.total, total > 0 else { return nil }
        return min(1, Double(p.done) / Double(total))
    }

    public func load() async {
        do {
            let (last, counts, open, refused) = try await repository.call { store in
                (try store.lastSyncMs(), try store.syncStatusCounts(), try store.conflicts(openOnly: true), try store.attention())
            }
            lastSyncMs = last
            pendingCount = counts.reduce(0) { $0 + $1.local + $1.pending }
            needsAttentionCount = counts.reduce(0) { $0 + $1.attention }
            conflicts = open
            attention = refused
            error = nil
        } catch {
            self.error = AppError(error)
        }
    }

    /// Syncs now. Returns how it ended; the screen's figures are re-read either way.
    @discardableResult
    public func syncNow() async -> SyncOutcome {
        guard !isSyncing else { return .failed(AppError(kind: .invalidState, code: "sync.running", messageZh: "同步正在进行中", messageEn: "a sync is already running")) }
        let run = SyncRun(repository: repository)
        current = run
        isSyncing = true
        progressLog = []
        progress = nil
        let outcome = await run.run { [weak self] p in
            _Concurrency.Task { @MainActor [weak self] in self?.report(p) }
        }
        // Let the progress reports already posted reach the screen before it settles.
        await _Concurrency.Task.yield()
        current = nil
        isSyncing = false
        lastOutcome = outcome
        await load()
        // After `load()`, which clears the error of an earlier read.
        if case let .failed(e) = outcome { error = e }
        return outcome
    }

    private func report(_ p: SyncProgress) {
        progress = p
        progressLog.append(p)
    }

    /// Stops the running sync at its next safe point.
    public func cancel() { current?.cancel() }

    /// Keeps the value the record holds.
    public func keepCurrent(_ conflict: Conflict) async { await resolve(conflict, .keep) }

    /// Puts back the value that was overwritten.
    public func takeOther(_ conflict: Conflict) async { await resolve(conflict, .takeLost) }

    /// Settles a conflict with any choice (including a value the worker typed).
    public func resolve(_ conflict: Conflict, _ choice: ConflictChoice) async {
        let id = conflict.id
        do {
            _ = try await repository.call { try $0.resolveConflict(id: id, choice: choice) }
            await load()
        } catch {
            self.error = AppError(error)
        }
    }

    /// Queues a refused change again (after the worker fixed the record).
    public func retry(_ item: AttentionItem) async {
        let id = item.changeId
        do {
            try await repository.call { try $0.retryAttention(changeId: id) }
            await load()
        } catch {
            self.error = AppError(error)
        }
    }

    /// Drops a refused change at the worker's explicit request (the local record stays).
    public func discard(_ item: AttentionItem) async {
        let id = item.changeId
        do {
            try await repository.call { try $0.discardAttention(changeId: id) }
            await load()
        } catch {
            self.error = AppError(error)
        }
    }
}
