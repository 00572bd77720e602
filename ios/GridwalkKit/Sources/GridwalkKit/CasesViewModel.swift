// Cases (事件): the worker's cases with their status, the open verification tasks (任务核查) the
// leader sent back, and one case's timeline with the on-site verification: after-photos (stored
// the moment they are taken), then confirm or reject with a note.
import Foundation
import GridwalkCore
import Observation

@Observable @MainActor
public final class CasesViewModel {
    public private(set) var cases: [Case] = []
    /// Open `verify_case` tasks, oldest due first.
    public private(set) var verificationTasks: [GridwalkCore.Task] = []
    public var statusFilter: CaseStatus?
    public private(set) var error: AppError?

    @ObservationIgnored private let repository: Repository

    public init(repository: Repository) {
        self.repository = repository
    }

    /// Cases waiting for the worker's verification.
    public var awaitingVerification: [Case] { cases.filter { $0.status == .verificationRequested } }

    public func load() async {
        let status = statusFilter
        do {
            (cases, verificationTasks) = try await repository.call { store in
                (try store.listCases(status: status),
                 try store.listTasks(status: .open).filter { $0.kind == .verifyCase })
            }
            error = nil
        } catch {
            self.error = AppError(error)
        }
    }
}

@Observable @MainActor
public final class CaseDetailViewModel {
    public let caseId: String
    public private(set) var theCase: Case?
    /// After-photos stored for the verification (owner `verification`).
    public private(set) var afterPhotos: [PhotoMeta] = []
    public var note = ""
    public private(set) var fieldErrors = FieldErrors()
    public private(set) var error: AppError?

    @ObservationIgnored private let repository: Repository
    @ObservationIgnored private let camera: PhotoCapture

    public init(repository: Repository, camera: PhotoCapture, caseId: String) {
        self.repository = repository
        self.camera = camera
        self.caseId = caseId
    }

    /// The timeline, oldest first.
    public var timeline: [CaseEvent] { theCase?.events ?? [] }
    public var canVerify: Bool { theCase?.status == .verificationRequested && !verificationSent }
    /// A verification is queued for the server (the status changes at the next sync).
    public var verificationSent: Bool {
        guard theCase?.status == .verificationRequested,
              let sent = timeline.lastIndex(where: { $0.kind == .verification }) else { return false }
        // A verification before the server's latest word belongs to an earlier round (the leader
        // sent the case back again after a rejection).
        return sent > (timeline.lastIndex { $0.kind == .serverUpdate } ?? -1)
    }

    public func load() async {
        let id = caseId
        do {
            let (c, photos) = try await repository.call { store in
                (try store.getCase(id: id), try store.photosOf(owner: .verification(id: id)))
            }
            theCase = c
            afterPhotos = photos
            error = nil
        } catch {
            self.error = AppError(error)
        }
    }

    /// Photographs the fix; the photo is stored on the case's verification at once.
    public func takeAfterPhoto() async {
        let id = caseId
        do {
            guard let jpeg = try await camera.captureJPEG() else { return }
            let now = epochMs()
            _ = try await repository.call { try $0.addPhoto(owner: .verification(id: id), bytes: jpeg, fallbackTakenAtMs: now) }
            await load()
        } catch {
            handle(error)
        }
    }

    /// 核查通过: the problem is fixed.
    @discardableResult
    public func confirm() async -> Bool { await verify(.verified) }

    /// 核查未通过: not fixed; the note must say why.
    @discardableResult
    public func reject() async -> Bool { await verify(.rejected) }

    private func verify(_ verdict: VerificationVerdict) async -> Bool {
        fieldErrors.clearAll()
        error = nil
        let id = caseId
        let text = note.trimmingCharacters(in: .whitespacesAndNewlines)
        do {
            theCase = try await repository.call {
                try $0.verifyCase(caseId: id, verdict: verdict, note: text.isEmpty ? nil : text, afterPhotos: [])
            }
            return true
        } catch {
            handle(error)
            return false
        }
    }

    private func handle(_ error: Error) {
        let e = AppError(error)
        if e.kind == .field { fieldErrors.set(e) } else { self.error = e }
    }
}
