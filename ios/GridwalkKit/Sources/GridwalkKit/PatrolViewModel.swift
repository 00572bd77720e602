// A patrol (巡查): start, watch distance, time and fixes grow, stop. GPS comes from the
// platform's `LocationProvider`; every fix goes straight into the store through the core's
// `PatrolRecorder`, so a killed app loses no fix and `resume()` re-attaches GPS to the patrol
// still running in the store.
import Foundation
import GridwalkCore
import Observation

/// Adapts the platform's provider to the core's `LocationSource`: fixes go to the recorder on the
/// provider's thread, then the view model is told to refresh its figures.
final class LocationSourceBridge: LocationSource, @unchecked Sendable {
    private let provider: LocationProvider
    private let onRecorded: @Sendable (Bool) -> Void
    private let lock = NSLock()
    private var recorder: PatrolRecorder?

    init(provider: LocationProvider, onRecorded: @escaping @Sendable (Bool) -> Void) {
        self.provider = provider
        self.onRecorded = onRecorded
    }

    func start(recorder: PatrolRecorder) throws {
        lock.lock(); self.recorder = recorder; lock.unlock()
        do {
            try provider.startUpdates { [weak self] fix in self?.deliver(fix) }
        } catch {
            lock.lock(); self.recorder = nil; lock.unlock()
            let e = AppError(error)
            throw GridwalkError.Platform(detail: e.code, messageZh: "无法开始定位", messageEn: "location could not start")
        }
    }

    private func deliver(_ fix: LocationFix) {
        lock.lock(); let recorder = self.recorder; lock.unlock()
        guard let recorder else { return }
        let kept = (try? recorder.record(fix: fix)) ?? false
        onRecorded(kept)
    }

    func stop() throws {
        provider.stopUpdates()
        lock.lock(); recorder = nil; lock.unlock()
    }
}

@Observable @MainActor
public final class PatrolViewModel {
    /// The grid to patrol (one of `grids`).
    public private(set) var gridCode: String
    /// The worker's grids, to choose from.
    public private(set) var grids: [OrgUnit] = []
    public var notes = ""
    /// The running patrol as last read from the store; nil when none runs.
    public private(set) var patrol: Patrol?
    /// The patrol just finished (for its summary).
    public private(set) var finished: Patrol?
    /// Fixes the core kept and skipped since this screen attached GPS.
    public private(set) var fixesKept: UInt32 = 0
    public private(set) var fixesSkipped: UInt32 = 0
    public private(set) var error: AppError?

    @ObservationIgnored private let repository: Repository
    @ObservationIgnored private let location: LocationProvider
    @ObservationIgnored private var recorder: PatrolRecorder?
    /// Bumped by every recorded fix; `waitForFixes` and the view's refresh read it.
    public private(set) var fixEvents = 0

    public init(repository: Repository, location: LocationProvider, gridCode: String) {
        self.repository = repository
        self.location = location
        self.gridCode = gridCode
    }

    public var isRunning: Bool { patrol != nil }
    public var distanceM: Double { patrol?.distanceM ?? 0 }
    public var pointCount: Int64 { patrol?.pointCount ?? 0 }

    /// Seconds since the start, for the running clock.
    public func elapsedSeconds(at now: Date = Date()) -> Int64 {
        guard let p = patrol else { return finished?.durationS ?? 0 }
        return max(0, (epochMs(now) - p.startedAtMs) / 1000)
    }

    private func bridge() -> LocationSourceBridge {
        LocationSourceBridge(provider: location) { [weak self] kept in
            _Concurrency.Task { @MainActor [weak self] in await self?.recorded(kept) }
        }
    }

    public func chooseGrid(_ code: String) {
        guard !isRunning else { return }
        gridCode = code
    }

    /// Picks up a patrol left running (the app was killed mid-patrol): GPS is attached again.
    public func resume() async {
        if grids.isEmpty, let mine = try? await repository.call({ try $0.myGrids() }) {
            grids = mine
            if gridCode.isEmpty, let first = mine.first { gridCode = first.code }
        }
        guard recorder == nil else { return await refresh() }
        do {
            guard let running = try await repository.call({ try $0.activePatrol() }) else { patrol = nil; return }
            let source = bridge()
            recorder = try await repository.call { try $0.attachLocationSource(patrolId: running.id, source: source) }
            patrol = running
            error = nil
        } catch {
            self.error = AppError(error)
        }
    }

    public func start() async {
        let grid = gridCode
        let source = bridge()
        do {
            let rec = try await repository.call { try $0.recordPatrol(gridCode: grid, source: source) }
            recorder = rec
            fixesKept = 0
            fixesSkipped = 0
            finished = nil
            patrol = try await repository.call { _ in try rec.patrol() }
            error = nil
        } catch {
            self.error = AppError(error)
        }
    }

    private func recorded(_ kept: Bool) async {
        if kept { fixesKept += 1 } else { fixesSkipped += 1 }
        fixEvents += 1
        await refresh()
    }

    /// Re-reads distance, duration and fix count from the store.
    public func refresh() async {
        guard let rec = recorder else { return }
        do {
            patrol = try await repository.call { _ in try rec.patrol() }
        } catch {
            self.error = AppError(error)
        }
    }

    /// Ends the patrol with `notes` (or the notes typed on screen).
    public func stop(notes: String? = nil) async {
        guard let rec = recorder else { return }
        let typed = notes ?? self.notes.trimmingCharacters(in: .whitespacesAndNewlines)
        let notes: String? = typed.isEmpty ? nil : typed
        do {
            finished = try await repository.call { _ in try rec.finish(notes: notes) }
            recorder = nil
            patrol = nil
            self.notes = ""
            error = nil
        } catch {
            self.error = AppError(error)
        }
    }
}
