// What the phone provides, as protocols: the app implements them with Core Location, the camera
// and photo picker, the Keychain and BGTaskScheduler (GridwalkApp/Platform/); the tests with
// scripted fakes. So every rule that uses them lives here, in GridwalkKit, and is tested on Linux.
import Foundation
import GridwalkCore

/// GPS fixes (Core Location on the phone). WGS-84, as the receiver reports them.
public protocol LocationProvider: AnyObject, Sendable {
    /// Starts delivering fixes to `onFix`, on any thread, until `stopUpdates()`. Throws when the
    /// worker has not allowed location.
    func startUpdates(_ onFix: @escaping @Sendable (LocationFix) -> Void) throws
    func stopUpdates()
    /// The freshest fix the platform has (for a case's location, the daily list's distances).
    func currentFix() async -> LocationFix?
}

/// The camera or the photo picker. Returns JPEG bytes — the app converts HEIC before — or nil
/// when the worker cancelled.
public protocol PhotoCapture: Sendable {
    func captureJPEG() async throws -> Data?
}

/// Secure storage for the database key (the Keychain on the phone, kept
/// `AfterFirstUnlockThisDeviceOnly` so background sync can open the store and the key never
/// leaves the device). Only stores; `DatabaseKey` decides when to make one.
public protocol KeyStore: Sendable {
    /// The saved key, or nil if none was ever saved.
    func loadKey() throws -> String?
    /// Saves the key; never called when one exists.
    func saveKey(_ key: String) throws
}

/// The OS's background task scheduler (BGTaskScheduler on the phone).
public protocol BackgroundScheduler: Sendable {
    /// A short refresh task (BGAppRefreshTask): sync records.
    func scheduleRefresh(earliest: Date) throws
    /// A longer task that needs the network (BGProcessingTask): photo files too.
    func scheduleProcessing(earliest: Date) throws
}

/// The database key: made once, from the system's secure random generator, then always read
/// back from the key store. A key store that fails is an error, never a reason to make a new key
/// (which would lock the worker out of her unsynced data).
public enum DatabaseKey {
    /// 32 random bytes as 64 hex characters.
    public static func generate() -> String {
        var rng = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &rng)) }.joined()
    }

    /// The key in `store`, made and saved first if there is none.
    public static func obtain(from store: KeyStore) throws -> String {
        if let key = try store.loadKey() { return key }
        try store.saveKey(generate())
        guard let saved = try store.loadKey() else {
            throw AppError(
                kind: .encryption, code: "key_not_saved", messageZh: "无法保存数据库密钥",
                messageEn: "the database key could not be saved")
        }
        return saved
    }
}
