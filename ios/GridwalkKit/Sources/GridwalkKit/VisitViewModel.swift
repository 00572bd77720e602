// A visit (走访): how (in person, phone, messaging), what was found, notes — or "not at home"
// (未遇) in one tap. Visits are append-only in the core: saving is final.
import Foundation
import GridwalkCore
import Observation

@Observable @MainActor
public final class VisitViewModel {
    public let householdId: String
    public var mode: VisitMode = .inPerson
    public var outcome: VisitOutcome = .fine
    public var notes = ""
    public private(set) var fieldErrors = FieldErrors()
    public private(set) var error: AppError?
    public private(set) var saved: Visit?

    @ObservationIgnored private let repository: Repository

    public init(repository: Repository, householdId: String) {
        self.repository = repository
        self.householdId = householdId
    }

    /// Logs the visit as filled in, now.
    @discardableResult
    public func save(at date: Date = Date()) async -> Bool {
        let note = notes.trimmingCharacters(in: .whitespacesAndNewlines)
        return await log(VisitInput(
            householdId: householdId, visitedAtMs: epochMs(date), mode: mode, outcome: outcome,
            notes: note.isEmpty ? nil : note))
    }

    /// One tap: went there, nobody home.
    @discardableResult
    public func notAtHome(at date: Date = Date()) async -> Bool {
        mode = .notAtHome
        outcome = .noContact
        return await log(VisitInput(householdId: householdId, visitedAtMs: epochMs(date), mode: .notAtHome, outcome: .noContact))
    }

    private func log(_ input: VisitInput) async -> Bool {
        fieldErrors.clearAll()
        error = nil
        do {
            saved = try await repository.call { try $0.logVisit(input: input) }
            return true
        } catch {
            let e = AppError(error)
            if e.kind == .field { fieldErrors.set(e) } else { self.error = e }
            return false
        }
    }
}
