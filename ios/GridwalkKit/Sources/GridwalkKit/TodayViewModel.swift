// The daily list (今日待办): what the core says is due today (tasks, visits due under the care
// tier, cases to verify, the patrol quota, unsent drafts), nearest first among equals, with an
// overdue badge and the distance, and for each line the one screen a tap opens.
import Foundation
import GridwalkCore
import Observation

/// Where one tap on a line of the daily list goes.
public enum TodayDestination: Hashable, Sendable {
    case household(id: String)
    case verifyCase(caseId: String)
    case patrol
    case draft(caseId: String)
    /// A task with no record behind it (collect information, a custom reminder).
    case task(id: String)
}

public struct TodayRow: Equatable, Sendable, Identifiable {
    public let id: String
    public let item: TodayItem
    public let destination: TodayDestination

    public var isOverdue: Bool { item.overdueDays > 0 }
    public func overdueBadge(_ language: Language) -> String? { Format.overdue(days: item.overdueDays, language) }
    public func distance(_ language: Language) -> String? { item.distanceM.map { Format.distance($0, language) } }
}

@Observable @MainActor
public final class TodayViewModel {
    public private(set) var rows: [TodayRow] = []
    public private(set) var isLoading = false
    public private(set) var error: AppError?

    @ObservationIgnored private let repository: Repository
    @ObservationIgnored private let location: LocationProvider?

    public init(repository: Repository, location: LocationProvider?) {
        self.repository = repository
        self.location = location
    }

    public var overdueCount: Int { rows.filter(\.isOverdue).count }

    /// Reads the list (and the tasks behind its lines) from the store, with the worker's position.
    public func load() async {
        isLoading = true
        defer { isLoading = false }
        let fix = await location?.currentFix()
        let position = fix.map { GeoPoint(lat: $0.lat, lng: $0.lng) }
        do {
            rows = try await repository.call { store in
                try store.today(position: position).enumerated().map { index, item in
                    TodayRow(id: "\(index)-\(item.targetId ?? "")", item: item, destination: try Self.destination(of: item, store))
                }
            }
            error = nil
        } catch {
            self.error = AppError(error)
        }
    }

    nonisolated private static func destination(of item: TodayItem, _ store: GridwalkStore) throws -> TodayDestination {
        switch item.kind {
        case .patrol: return .patrol
        case .visitDue: return .household(id: item.targetId ?? "")
        case .verifyCase: return .verifyCase(caseId: item.targetId ?? "")
        case .draftCase: return .draft(caseId: item.targetId ?? "")
        case .task:
            let id = item.targetId ?? ""
            let task = try store.getTask(id: id)
            switch (task.kind, task.target?.kind) {
            case (.verifyCase, "case"): return .verifyCase(caseId: task.target?.id ?? "")
            case (_, "household"): return .household(id: task.target?.id ?? "")
            case (.patrol, _): return .patrol
            default: return .task(id: id)
            }
        }
    }

    /// Marks a task line done (the one tap for a reminder with nothing to open).
    public func finishTask(_ id: String) async {
        do {
            _ = try await repository.call { try $0.finishTask(id: id, status: .done) }
            await load()
        } catch {
            self.error = AppError(error)
        }
    }
}
