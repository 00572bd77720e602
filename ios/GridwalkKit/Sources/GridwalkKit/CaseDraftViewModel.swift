// A case draft (事件上报): category → sub-type from the core's taxonomy, urgency, description,
// photos from the camera, the location, then submit. The draft is saved in the store as soon as
// it has a type and again with every change (`setDescription`, `setAddress`, `setUrgency`, …),
// one save after the other so the store always ends with the latest text, and each photo is
// stored the moment it is taken: a killed app loses nothing, and `restore(caseId:)` (or
// `restoreLatest()`) brings the draft back.
import Foundation
import GridwalkCore
import Observation

@Observable @MainActor
public final class CaseDraftViewModel {
    public let gridCode: String
    public private(set) var caseId: String?
    /// The six categories (大类).
    public let categories: [CaseType]
    public private(set) var categoryCode: String?
    public private(set) var typeCode: String?
    public private(set) var urgency: Urgency = .normal
    public private(set) var description = ""
    public private(set) var address = ""
    public private(set) var location: GeoPoint?
    /// The household or patrol the case was filed from, if any (set before the first save).
    public var householdId: String?
    public var patrolId: String?
    public private(set) var photos: [PhotoMeta] = []
    public private(set) var status: CaseStatus?
    public private(set) var fieldErrors = FieldErrors()
    public private(set) var error: AppError?

    @ObservationIgnored private let repository: Repository
    @ObservationIgnored private let camera: PhotoCapture
    @ObservationIgnored private let location_: LocationProvider?
    @ObservationIgnored private let taxonomy: [CaseType]
    /// The save in flight; the next one waits for it (two first saves would make two drafts).
    @ObservationIgnored private var lastSave: _Concurrency.Task<Bool, Never>?

    public init(repository: Repository, camera: PhotoCapture, location: LocationProvider?, gridCode: String) {
        self.repository = repository
        self.camera = camera
        self.location_ = location
        self.gridCode = gridCode
        taxonomy = caseTypes()
        categories = taxonomy.filter { $0.code == $0.categoryCode }
    }

    /// Sub-types (小类) of the chosen category.
    public var subTypes: [CaseType] {
        guard let c = categoryCode else { return [] }
        return taxonomy.filter { $0.categoryCode == c && $0.code != c }
    }

    public var isSubmitted: Bool { status != nil && status != .draft }

    public func chooseCategory(_ code: String) {
        guard code != categoryCode else { return }
        categoryCode = code
        typeCode = nil
    }

    /// Picks the sub-type; the draft is saved from here on.
    public func chooseSubType(_ code: String) async {
        typeCode = code
        categoryCode = taxonomy.first { $0.code == code }?.categoryCode
        fieldErrors.clear("type_code")
        await saveDraft()
    }

    /// The worker typed in the description: shown at once, saved right after (in order).
    public func setDescription(_ text: String) {
        description = text
        if typeCode != nil { enqueueSave() }
    }

    public func setAddress(_ text: String) {
        address = text
        if typeCode != nil { enqueueSave() }
    }

    public func setUrgency(_ value: Urgency) {
        urgency = value
        if typeCode != nil { enqueueSave() }
    }

    /// Waits until every save started so far has finished; whether the last one worked.
    @discardableResult
    public func settled() async -> Bool {
        await lastSave?.value ?? true
    }

    /// Fills the location from the platform's freshest fix.
    public func useCurrentLocation() async {
        guard let fix = await location_?.currentFix() else {
            fieldErrors.set(.field("location", .required))
            return
        }
        location = GeoPoint(lat: fix.lat, lng: fix.lng)
        fieldErrors.clear("location")
        await saveDraft()
    }

    private func input() -> CaseInput? {
        guard let typeCode else { return nil }
        let text = description.trimmingCharacters(in: .whitespacesAndNewlines)
        let place = address.trimmingCharacters(in: .whitespacesAndNewlines)
        return CaseInput(
            typeCode: typeCode, urgency: urgency, gridCode: gridCode, description: text, location: location,
            address: place.isEmpty ? nil : place, householdId: householdId, patrolId: patrolId)
    }

    /// Saves what is on screen into the draft (creating it on the first save). Without a type
    /// there is nothing the store would keep yet: the type field says so.
    @discardableResult
    public func saveDraft() async -> Bool {
        await enqueueSave().value
    }

    @discardableResult
    private func enqueueSave() -> _Concurrency.Task<Bool, Never> {
        let previous = lastSave
        let save = _Concurrency.Task { @MainActor in
            _ = await previous?.value
            return await self.writeDraft()
        }
        lastSave = save
        return save
    }

    /// One save, with what is on screen when it starts.
    private func writeDraft() async -> Bool {
        guard let input = input() else {
            fieldErrors.set(.field("type_code", .required))
            return false
        }
        let id = caseId
        do {
            let c = try await repository.call { store in
                if let id { return try store.updateDraft(id: id, input: input) }
                return try store.draftCase(input: input)
            }
            saved(c)
            for field in ["type_code", "description", "address", "location", "urgency"] { fieldErrors.clear(field) }
            return true
        } catch {
            handle(error)
            return false
        }
    }

    /// Takes a photo with the camera and stores it on the draft at once.
    public func takePhoto() async {
        do {
            guard let jpeg = try await camera.captureJPEG() else { return }
            if caseId == nil { guard await saveDraft() else { return } }
            guard let id = caseId else { return }
            let now = epochMs()
            _ = try await repository.call { try $0.addPhoto(owner: .case(id: id), bytes: jpeg, fallbackTakenAtMs: now) }
            let c = try await repository.call { try $0.getCase(id: id) }
            saved(c)
        } catch {
            handle(error)
        }
    }

    /// Submits the draft (complete: description, location or address); false with the field
    /// errors when the core refuses.
    @discardableResult
    public func submit() async -> Bool {
        guard await saveDraft(), let id = caseId else { return false }
        do {
            let c = try await repository.call { try $0.submitCase(id: id) }
            show(c)
            return true
        } catch {
            handle(error)
            return false
        }
    }

    /// Throws the draft away with its photos (it never left the phone).
    public func discard() async {
        guard let id = caseId else { return }
        do {
            try await repository.call { try $0.discardDraft(id: id) }
            caseId = nil; typeCode = nil; categoryCode = nil; description = ""; address = ""
            location = nil; photos = []; status = nil
        } catch {
            handle(error)
        }
    }

    /// Loads a draft back from the store (after the app was killed, or from the daily list).
    public func restore(caseId: String) async {
        do {
            let c = try await repository.call { try $0.getCase(id: caseId) }
            show(c)
        } catch {
            handle(error)
        }
    }

    /// Loads the newest unsent draft, if any. Returns whether there was one.
    @discardableResult
    public func restoreLatest() async -> Bool {
        do {
            guard let c = try await repository.call({ try $0.listCases(status: .draft).first }) else { return false }
            show(c)
            return true
        } catch {
            handle(error)
            return false
        }
    }

    /// After a save: what the store decided (id, status, photos). The fields the worker types
    /// stay as they are on screen, which may already be ahead of this save.
    private func saved(_ c: Case) {
        caseId = c.id
        photos = c.photos
        status = c.status
        if location == nil { location = c.location }
        error = nil
    }

    /// Loads a case from the store into every field.
    private func show(_ c: Case) {
        caseId = c.id
        typeCode = c.typeCode
        categoryCode = c.categoryCode
        urgency = c.urgency
        description = c.description
        address = c.address ?? ""
        location = c.location
        householdId = c.householdId
        patrolId = c.patrolId
        photos = c.photos
        status = c.status
        fieldErrors.clearAll()
        error = nil
    }

    private func handle(_ error: Error) {
        let e = AppError(error)
        if e.kind == .field { fieldErrors.set(e) } else { self.error = e }
    }
}
