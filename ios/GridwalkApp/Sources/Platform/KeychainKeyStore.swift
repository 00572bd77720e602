// The database key in the Keychain: generic password, this device only, readable after the
// first unlock (so a background sync can open the store while the phone is locked, and the key
// is never in a backup or on another device). GridwalkKit's `DatabaseKey` decides when to make it.
import Foundation
import GridwalkKit
import Security

struct KeychainKeyStore: KeyStore {
    let service = "org.gridwalk.app"
    let account = "database-key"

    private var query: [String: Any] {
        [kSecClass as String: kSecClassGenericPassword,
         kSecAttrService as String: service,
         kSecAttrAccount as String: account]
    }

    func loadKey() throws -> String? {
        var q = query
        q[kSecReturnData as String] = true
        q[kSecMatchLimit as String] = kSecMatchLimitOne
        var item: CFTypeRef?
        let status = SecItemCopyMatching(q as CFDictionary, &item)
        switch status {
        case errSecSuccess:
            guard let data = item as? Data, let key = String(data: data, encoding: .utf8) else { throw failure(status) }
            return key
        case errSecItemNotFound:
            return nil
        default:
            // Locked before the first unlock, or the Keychain failed: never "no key".
            throw failure(status)
        }
    }

    func saveKey(_ key: String) throws {
        var q = query
        q[kSecValueData as String] = Data(key.utf8)
        q[kSecAttrAccessible as String] = kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly
        let status = SecItemAdd(q as CFDictionary, nil)
        guard status == errSecSuccess else { throw failure(status) }
    }

    private func failure(_ status: OSStatus) -> AppError {
        AppError(kind: .encryption, code: "keychain_\(status)", messageZh: "无法读取钥匙串中的数据库密钥",
                 messageEn: "the database key could not be read from the Keychain")
    }
}
