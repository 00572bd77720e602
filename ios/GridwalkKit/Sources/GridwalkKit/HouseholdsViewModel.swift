// Households (户): find one by any fragment (name, address, phone, ID number — the core's search),
// or browse building → unit → floor, optionally only one care tier. Each level lists what the
// store holds; nothing is cached past a `load()`.
import Foundation
import GridwalkCore
import Observation

@Observable @MainActor
public final class HouseholdsViewModel {
    public private(set) var query = ""
    /// Search results (empty while `query` is empty).
    public private(set) var hits: [SearchHit] = []
    public private(set) var careTier: CareTier?
    public private(set) var building: String?
    public private(set) var unit: String?
    public private(set) var floor: Int32?
    public private(set) var error: AppError?

    /// Every active household under the current care-tier filter, by address.
    public private(set) var households: [Household] = []

    @ObservationIgnored private let repository: Repository

    public init(repository: Repository) {
        self.repository = repository
    }

    /// Buildings (楼栋/组) of the filtered households, in address order.
    public var buildings: [String] { distinct(households.map(\.address.building)) }

    /// Units of the chosen building (`""` for households without one).
    public var units: [String] {
        distinct(households.filter { $0.address.building == building }.map { $0.address.unit ?? "" })
    }

    /// Floors of the chosen building and unit (households without a floor are listed directly).
    public var floors: [Int32] {
        distinct(inUnit.compactMap(\.address.floor)).sorted()
    }

    /// The households the browse shows at its current level.
    public var browsed: [Household] {
        guard building != nil else { return [] }
        guard unit != nil else { return households.filter { $0.address.building == building } }
        guard let floor else { return inUnit }
        return inUnit.filter { $0.address.floor == floor }
    }

    private var inUnit: [Household] {
        households.filter { $0.address.building == building && ($0.address.unit ?? "") == unit }
    }

    private func distinct<T: Hashable>(_ values: [T]) -> [T] {
        var seen = Set<T>()
        return values.filter { seen.insert($0).inserted }
    }

    public func load() async {
        let filter = HouseholdFilter(careTier: careTier)
        do {
            households = try await repository.call { try $0.listHouseholds(filter: filter) }
            error = nil
        } catch {
            self.error = AppError(error)
        }
        await runSearch()
    }

    public func searchTyped(_ text: String) async {
        query = text
        await runSearch()
    }

    private func runSearch() async {
        let q = query.trimmingCharacters(in: .whitespaces)
        guard !q.isEmpty else { hits = []; return }
        do {
            let found = try await repository.call { try $0.search(query: q, limit: 100) }
            // Under a care-tier filter, only hits in the filtered households.
            let allowed = Set(households.map(\.id))
            hits = careTier == nil ? found : found.filter { allowed.contains($0.householdId) }
            error = nil
        } catch {
            self.error = AppError(error)
        }
    }

    public func chooseCareTier(_ careTier: CareTier?) async {
        self.careTier = careTier
        await load()
        if let b = building, !buildings.contains(b) { building = nil; unit = nil; floor = nil }
    }

    public func chooseBuilding(_ building: String?) { self.building = building; unit = nil; floor = nil }
    public func chooseUnit(_ unit: String?) { self.unit = unit; floor = nil }
    public func chooseFloor(_ floor: Int32?) { self.floor = floor }
}

/// One household (户详情): its residents, its visits, each with its sync badge.
@Observable @MainActor
public final class HouseholdDetailViewModel {
    public let householdId: String
    public private(set) var household: Household?
    public private(set) var residents: [Resident] = []
    public private(set) var visits: [Visit] = []
    public private(set) var error: AppError?

    @ObservationIgnored private let repository: Repository

    public init(repository: Repository, householdId: String) {
        self.repository = repository
        self.householdId = householdId
    }

    public func load() async {
        let id = householdId
        do {
            let (h, r, v) = try await repository.call { store in
                (try store.getHousehold(id: id), try store.residentsOf(householdId: id, includeInactive: false), try store.visitsOf(householdId: id))
            }
            household = h
            residents = r
            visits = v
            error = nil
        } catch {
            self.error = AppError(error)
        }
    }

    /// ID numbers are masked on every screen unless revealed on purpose: region and last four.
    public static func masked(idNumber: String?) -> String? { idNumber.map { keep($0, head: 6, tail: 4) } }

    /// Phones likewise: the first three digits and the last four.
    public static func masked(phone: String?) -> String? { phone.map { keep($0, head: 3, tail: 4) } }

    private static func keep(_ value: String, head: Int, tail: Int) -> String {
        guard value.count > head + tail else { return String(repeating: "*", count: value.count) }
        return String(value.prefix(head)) + String(repeating: "*", count: value.count - head - tail) + String(value.suffix(tail))
    }
}
