// Work statistics (工作统计) for the day, week or month, computed by the core from the store.
import Foundation
import GridwalkCore
import Observation

@Observable @MainActor
public final class StatsViewModel {
    public private(set) var period: Period = .day
    public private(set) var stats: WorkStats?
    public private(set) var error: AppError?

    @ObservationIgnored private let repository: Repository

    public init(repository: Repository) {
        self.repository = repository
    }

    public func choosePeriod(_ period: Period) async {
        self.period = period
        await load()
    }

    public func load() async {
        let p = period
        do {
            stats = try await repository.call { try $0.stats(period: p, day: nil) }
            error = nil
        } catch {
            self.error = AppError(error)
        }
    }

    /// Cases of the period by category, with the category's label, most first.
    public func casesByCategory(_ language: Language) -> [(label: String, count: UInt32)] {
        let labels = Dictionary(caseTypes().filter { $0.code == $0.categoryCode }.map { ($0.code, $0) }, uniquingKeysWith: { a, _ in a })
        return (stats?.casesByCategory ?? [:])
            .map { code, n in (labels[code].map { language.pick(zh: $0.labelZh, en: $0.labelEn) } ?? code, n) }
            .sorted { $0.count != $1.count ? $0.count > $1.count : $0.label < $1.label }
    }

    /// Patrol distance of the period, formatted.
    public func patrolDistance(_ language: Language) -> String { Format.distance(stats?.patrolDistanceM ?? 0, language) }
}
