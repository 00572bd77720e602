// The one way the view models reach the core. It owns the open store, runs every call off the
// main actor (the core writes with fsync, and sync blocks for seconds), and turns whatever the
// core throws into an `AppError`. It keeps nothing of its own: every value a screen shows is read
// back from the store after a write, so a value the worker saved is never only in memory.
import Foundation
import GridwalkCore

public final class Repository: Sendable {
    /// The core's store, for the few callers that need the object itself (the patrol recorder).
    public let store: GridwalkStore
    private let queue = DispatchQueue(label: "gridwalk.repository", qos: .userInitiated, attributes: .concurrent)

    public init(store: GridwalkStore) {
        self.store = store
    }

    /// Opens (creating if needed) the encrypted store `gridwalk.db` in `directory` with the key
    /// from `keyStore` (made on first use). Off the main actor: opening checks the file.
    public static func open(directory: URL, keyStore: KeyStore) async throws -> Repository {
        try await _Concurrency.Task.detached(priority: .userInitiated) {
            do {
                // A library without SQLCipher would refuse the keyed open anyway; say why first,
                // and never fall back to an unencrypted store of residents' data.
                guard cipherVersion() != nil else {
                    throw AppError(
                        kind: .encryption, code: "no_cipher", messageZh: "此版本不支持数据库加密",
                        messageEn: "this build cannot encrypt the store")
                }
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                let key = try DatabaseKey.obtain(from: keyStore)
                let path = directory.appendingPathComponent("gridwalk.db").path
                return Repository(store: try GridwalkStore.openWithKey(path: path, key: key))
            } catch {
                throw AppError(error)
            }
        }.value
    }

    /// Runs `body` with the store on a background thread; errors arrive as `AppError`.
    public func call<T: Sendable>(_ body: @escaping @Sendable (GridwalkStore) throws -> T) async throws -> T {
        let store = self.store
        return try await withCheckedThrowingContinuation { continuation in
            queue.async {
                do {
                    continuation.resume(returning: try body(store))
                } catch {
                    continuation.resume(throwing: AppError(error))
                }
            }
        }
    }

    /// Closes the database file (signing out of the app, or a test simulating a kill).
    public func close() {
        store.closeStore()
    }
}
