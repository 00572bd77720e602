// The daily list (今日待办): what the core says is due today (tasks, visits due under the care
// tier, cases to verify, the patrol quota, unsent drafts), nearest first among equals, with an
// overdue badge and the distance; one tap on a line goes and does it (`act`).
import Foundation
import GridwalkCore
import Observation

/// Where one tap on a line of the daily list (or another list) goes.
public enum TodayDestination: Hashable, Sendable {
    /// Log a visit to this household.
    case visit(householdId: String)
    case household(id: String)
    /// The case, with its verification when the leader asked for one.
    case verifyCase(caseId: String)
    case patrol
    /// A draft case (nil: a new one).
    case draft(caseId: String?)
}

public struct TodayRow: Equatable, Sendable, Identifiable {
    public let id: String
    public let item: TodayItem

    public var isOverdue: Bool { item.overdueDays > 0 }
    public func overdueBadge(_ language: Language) -> String? { Format.overdue(days: item.overdueDays, language) }
    public func distance(_ language: Language) -> String? { item.distanceM.map { Format.distance($0, language) } }
}

@Observable @MainActor
public final class TodayViewModel {
    /// The worker's local day the list is for (`YYYY-MM-DD`).
    public private(set) var day = ""
    public private(set) var rows: [TodayRow] = []
    public private(set) var isLoading = false
    public private(set) var error: AppError?
    /// Set by `act`: the screen to open; the view clears it with `navigationDone()`.
    public private(set) var navigateTo: TodayDestination?

    @ObservationIgnored private let repository: Repository
    @ObservationIgnored private let location: LocationProvider?

    public init(repository: Repository, location: LocationProvider?) {
        self.repository = repository
        self.location = location
    }

    public var overdueCount: Int { rows.filter(\.isOverdue).count }

    /// Reads the list from the store, from where the phone is now.
    public func load() async {
        isLoading = true
        defer { isLoading = false }
        let fix = await location?.currentFix()
        let position = fix.map { GeoPoint(lat: $0.lat, lng: $0.lng) }
        do {
            let (d, items) = try await repository.call { store in (try store.localToday(), try store.today(position: position)) }
            day = d
            rows = items.enumerated().map { TodayRow(id: "\($0.offset)-\($0.element.targetId ?? "")", item: $0.element) }
            error = nil
        } catch {
            self.error = AppError(error)
        }
    }

    /// The one tap on a line: opens the screen that does it (also returned), or, for a task about
    /// nothing in particular, marks it done and reloads (returns nil).
    @discardableResult
    public func act(_ row: TodayRow) async -> TodayDestination? {
        let id = row.item.targetId
        let destination: TodayDestination?
        switch row.item.kind {
        case .visitDue: destination = id.map { .visit(householdId: $0) }
        case .verifyCase: destination = id.map { .verifyCase(caseId: $0) }
        case .patrol: destination = .patrol
        case .draftCase: destination = .draft(caseId: id)
        case .task: destination = await openTask(id)
        }
        navigateTo = destination
        return destination
    }

    public func navigationDone() { navigateTo = nil }

    /// A task opens what it is about; one about nothing in particular is done in one tap.
    private func openTask(_ taskId: String?) async -> TodayDestination? {
        guard let taskId else { return nil }
        do {
            let task = try await repository.call { try $0.getTask(id: taskId) }
            switch (task.target?.kind, task.target?.id) {
            case let ("household", id?): return .household(id: id)
            case let ("case", id?): return .verifyCase(caseId: id)
            case let ("resident", id?):
                return .household(id: try await repository.call { try $0.getResident(id: id).householdId })
            default:
                if task.kind == .patrol { return .patrol }
                _ = try await repository.call { try $0.finishTask(id: taskId, status: .done) }
                await load()
                return nil
            }
        } catch {
            self.error = AppError(error)
            return nil
        }
    }
}
