// Sign-in (登录): server address, user name, password. The session lives in the store, so after
// the app is killed `restore()` finds the worker signed in without asking again.
import Foundation
import GridwalkCore
import Observation

@Observable @MainActor
public final class SignInViewModel {
    public var serverUrl: String
    public var username = ""
    public var password = ""
    public private(set) var isWorking = false
    public private(set) var fieldErrors = FieldErrors()
    /// An error that belongs to no field (no signal, server failure).
    public private(set) var error: AppError?
    /// Set once signed in (then the app shows the daily list).
    public private(set) var session: SessionInfo?

    @ObservationIgnored private let repository: Repository

    public init(repository: Repository, defaultServerUrl: String = "") {
        self.repository = repository
        self.serverUrl = defaultServerUrl
    }

    /// Reads the session kept in the store (the worker stays signed in across restarts).
    public func restore() async {
        do {
            session = try await repository.call { try $0.session() }
            if let s = session { serverUrl = s.serverUrl; username = s.username }
        } catch {
            self.error = AppError(error)
        }
    }

    /// Signs in; returns whether it worked. Wrong credentials show under the password.
    @discardableResult
    public func signIn(deviceName: String? = nil) async -> Bool {
        fieldErrors.clearAll()
        error = nil
        for (field, value) in [("server_url", serverUrl), ("username", username), ("password", password)]
        where value.trimmingCharacters(in: .whitespaces).isEmpty {
            fieldErrors.set(.field(field, .required))
        }
        guard fieldErrors.isEmpty else { return false }
        isWorking = true
        defer { isWorking = false }
        let (url, user, pass) = (serverUrl.trimmingCharacters(in: .whitespaces), username.trimmingCharacters(in: .whitespaces), password)
        do {
            session = try await repository.call {
                try $0.login(serverUrl: url, username: user, password: pass, deviceName: deviceName)
            }
            password = ""
            return true
        } catch {
            let e = AppError(error)
            switch (e.kind, e.code) {
            case (.field, _): fieldErrors.set(e)
            case (.signInRequired, "bad_credentials"):
                fieldErrors.set(AppError(kind: .field, field: "password", code: e.code, messageZh: e.messageZh, messageEn: e.messageEn))
            default: self.error = e
            }
            return false
        }
    }

    /// Forgets the session on this device; unsynced work stays for the next sign-in.
    public func signOut() async {
        do {
            try await repository.call { try $0.logout() }
            session = nil
        } catch {
            self.error = AppError(error)
        }
    }
}
