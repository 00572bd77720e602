// The resident form (人员登记): the ID number is checked as it is typed, by the core's own rule,
// and once it is valid gender and birth date are filled from it. Every refusal, from that check
// or from saving, shows under its own field. A new resident or an edit of an existing one.
import Foundation
import GridwalkCore
import Observation

@Observable @MainActor
public final class ResidentFormViewModel {
    public let householdId: String
    /// Set when editing an existing resident.
    public private(set) var residentId: String?

    public var name = ""
    public private(set) var idNumber = ""
    public var phone = ""
    public var relation: Relation = .head
    public var residency: Residency = .registered
    public var gender: Gender?
    /// `YYYY-MM-DD`.
    public var birthDate = ""
    public var specialGroups: [SpecialGroup] = []
    public var notes = ""
    /// Gender and birth date come from a valid ID number (the form shows them read-only).
    public private(set) var filledFromIdNumber = false

    public private(set) var fieldErrors = FieldErrors()
    public private(set) var error: AppError?
    public private(set) var isSaving = false
    /// The saved resident, once saved (the screen closes).
    public private(set) var saved: Resident?

    @ObservationIgnored private let repository: Repository

    public init(repository: Repository, householdId: String) {
        self.repository = repository
        self.householdId = householdId
    }

    /// Loads an existing resident into the form.
    public func edit(residentId: String) async {
        do {
            let r = try await repository.call { try $0.getResident(id: residentId) }
            self.residentId = r.id
            name = r.name
            idNumber = r.idNumber ?? ""
            phone = r.phone ?? ""
            relation = r.relation
            residency = r.residency
            gender = r.gender
            birthDate = r.birthDate ?? ""
            specialGroups = r.specialGroups
            notes = r.notes ?? ""
            filledFromIdNumber = r.idNumber != nil
        } catch {
            self.error = AppError(error)
        }
    }

    /// Ticks or unticks a special group (特殊人群) on the form.
    public func toggle(_ group: SpecialGroup) {
        if let i = specialGroups.firstIndex(of: group) { specialGroups.remove(at: i) } else { specialGroups.append(group) }
    }

    /// The worker typed in the ID number field. A number is judged once it has its 18
    /// characters (or when the field is left, `idNumberFinished()`), not while it is half typed.
    public func setIdNumber(_ text: String) async {
        idNumber = text
        let typed = text.trimmingCharacters(in: .whitespaces)
        if typed.count < 18 {
            fieldErrors.clear("id_number")
            if filledFromIdNumber { filledFromIdNumber = false }
            return
        }
        await checkIdNumber(typed)
    }

    /// The worker left the ID number field: a short number is an error now.
    public func idNumberFinished() async {
        let typed = idNumber.trimmingCharacters(in: .whitespaces)
        if !typed.isEmpty { await checkIdNumber(typed) }
    }

    private func checkIdNumber(_ typed: String) async {
        do {
            let info = try await repository.call { try $0.checkIdNumber(idNumber: typed) }
            // The worker may have typed on while the check ran: only the current text counts.
            guard idNumber.trimmingCharacters(in: .whitespaces) == typed else { return }
            fieldErrors.clear("id_number")
            gender = info.gender
            birthDate = info.birthDate
            filledFromIdNumber = true
        } catch {
            guard idNumber.trimmingCharacters(in: .whitespaces) == typed else { return }
            filledFromIdNumber = false
            fieldErrors.set(AppError(error))
        }
    }

    /// Saves the resident; false with the errors under their fields when refused.
    @discardableResult
    public func save() async -> Bool {
        fieldErrors.clearAll()
        error = nil
        isSaving = true
        defer { isSaving = false }
        let blank = { (s: String) -> String? in
            let t = s.trimmingCharacters(in: .whitespaces)
            return t.isEmpty ? nil : t
        }
        let id = blank(idNumber), tel = blank(phone), note = blank(notes)
        let born = id == nil ? blank(birthDate) : nil
        let sex = id == nil ? gender : nil
        let (hid, rid, nm, rel, res, groups) = (householdId, residentId, name, relation, residency, specialGroups)
        do {
            saved = try await repository.call { store in
                if let rid {
                    return try store.updateResident(id: rid, patch: ResidentPatch(
                        name: nm, idNumber: id, clearIdNumber: id == nil, phone: tel, clearPhone: tel == nil,
                        gender: sex, birthDate: born, relation: rel, residency: res,
                        specialGroups: groups, notes: note, clearNotes: note == nil))
                }
                return try store.addResident(input: ResidentInput(
                    householdId: hid, name: nm, relation: rel, residency: res, idNumber: id, phone: tel,
                    gender: sex, birthDate: born, specialGroups: groups, notes: note))
            }
            residentId = saved?.id
            return true
        } catch {
            let e = AppError(error)
            if e.kind == .field { fieldErrors.set(e) } else { self.error = e }
            return false
        }
    }
}
