// The one error the view models show. Every failure of a core call (a `GridwalkError`) is
// mapped here, once, into what a screen does with it: put a message under a form field, send the
// worker back to sign-in, offer a retry, or just say it. Messages come from the core in Chinese
// and English and never contain personal data, so they are shown (and logged) as they are.
import Foundation
import GridwalkCore

/// The language of the worker's screen: Simplified Chinese first, English second.
public enum Language: String, Sendable, CaseIterable {
    case zhHans = "zh-Hans"
    case english = "en"

    /// The language the device prefers among the two (Chinese unless it prefers English).
    public static func preferred(_ identifiers: [String] = Locale.preferredLanguages) -> Language {
        for id in identifiers {
            if id.hasPrefix("zh") { return .zhHans }
            if id.hasPrefix("en") { return .english }
        }
        return .zhHans
    }

    /// Picks the Chinese or English text.
    public func pick(zh: String, en: String) -> String { self == .zhHans ? zh : en }
}

public struct AppError: Error, Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// A value the worker typed was refused: show it under `field`.
        case field
        /// The record is not on this device.
        case notFound
        /// The record's state forbids the action (e.g. a second patrol).
        case invalidState
        /// Sign in again (not signed in, wrong password, session ended, device revoked).
        case signInRequired
        /// No signal or the server failed; `retryable` says whether trying later may help.
        case network(retryable: Bool)
        /// Cancelled (the worker, or iOS ending a background task). Nothing is lost.
        case cancelled
        /// The database was written by a newer app: upgrade.
        case upgradeRequired
        /// The store's key is wrong or encryption is unavailable.
        case encryption
        /// Anything else the device could not do (storage, files, a platform callback).
        case failure
    }

    public let kind: Kind
    /// For `.field`: the core's field name (`id_number`, `address.building`, `photo`, …).
    public let field: String?
    /// Machine-readable: a validation code (`invalid_checksum`), an auth or network code.
    public let code: String
    /// For a duplicate ID number: the household that already holds it.
    public let existingHouseholdId: String?
    public let messageZh: String
    public let messageEn: String

    public init(
        kind: Kind, field: String? = nil, code: String, existingHouseholdId: String? = nil,
        messageZh: String, messageEn: String
    ) {
        self.kind = kind
        self.field = field
        self.code = code
        self.existingHouseholdId = existingHouseholdId
        self.messageZh = messageZh
        self.messageEn = messageEn
    }

    public func message(_ language: Language) -> String { language.pick(zh: messageZh, en: messageEn) }

    /// Whether the worker must sign in again before syncing.
    public var needsSignIn: Bool { kind == .signInRequired }

    /// Maps anything thrown by a core call or a platform protocol.
    public init(_ error: Error) {
        if let e = error as? AppError {
            self = e
            return
        }
        guard let e = error as? GridwalkError else {
            self.init(
                kind: .failure, code: "platform", messageZh: "操作失败", messageEn: "the operation failed")
            return
        }
        switch e {
        case let .Validation(field, code, existing, zh, en):
            self.init(
                kind: .field, field: field, code: code.code(), existingHouseholdId: existing,
                messageZh: zh, messageEn: en)
        case let .NotFound(entity, _, zh, en):
            self.init(kind: .notFound, code: entity, messageZh: zh, messageEn: en)
        case let .InvalidState(entity, _, state, _, zh, en):
            self.init(kind: .invalidState, code: "\(entity).\(state)", messageZh: zh, messageEn: en)
        case let .Auth(code, zh, en):
            self.init(kind: .signInRequired, code: code, messageZh: zh, messageEn: en)
        case let .Network(code, retryable, zh, en):
            self.init(kind: .network(retryable: retryable), code: code, messageZh: zh, messageEn: en)
        case let .Cancelled(zh, en):
            self.init(kind: .cancelled, code: "cancelled", messageZh: zh, messageEn: en)
        case let .SchemaTooNew(_, _, zh, en):
            self.init(kind: .upgradeRequired, code: "schema_too_new", messageZh: zh, messageEn: en)
        case let .Encryption(zh, en):
            self.init(kind: .encryption, code: "encryption", messageZh: zh, messageEn: en)
        case let .Corrupt(_, zh, en):
            self.init(kind: .failure, code: "corrupt", messageZh: zh, messageEn: en)
        case let .NotAStore(_, reason, zh, en):
            self.init(kind: .failure, code: reason, messageZh: zh, messageEn: en)
        case let .ReadOnly(_, _, zh, en):
            self.init(kind: .failure, code: "read_only", messageZh: zh, messageEn: en)
        case let .Busy(_, zh, en):
            self.init(kind: .network(retryable: true), code: "busy", messageZh: zh, messageEn: en)
        case let .Format(what, zh, en):
            self.init(kind: .field, field: what, code: "format", messageZh: zh, messageEn: en)
        case let .Platform(_, zh, en):
            self.init(kind: .failure, code: "platform", messageZh: zh, messageEn: en)
        case let .Closed(zh, en):
            self.init(kind: .failure, code: "closed", messageZh: zh, messageEn: en)
        case let .Storage(_, zh, en):
            self.init(kind: .failure, code: "storage", messageZh: zh, messageEn: en)
        }
    }

    /// A refusal the app itself makes before calling the core (e.g. a form missing its type),
    /// worded with the core's messages for that validation code.
    public static func field(_ field: String, _ code: ValidationCode) -> AppError {
        AppError(
            kind: .field, field: field, code: code.code(), messageZh: code.messageZh(),
            messageEn: code.messageEn())
    }
}

/// Errors of a form, by the core's field name, so each shows under its own field.
public struct FieldErrors: Equatable, Sendable {
    public private(set) var byField: [String: AppError] = [:]

    public init() {}

    public subscript(field: String) -> AppError? { byField[field] }
    public var isEmpty: Bool { byField.isEmpty }

    public mutating func set(_ error: AppError) {
        byField[error.field ?? ""] = error
    }

    public mutating func clear(_ field: String) { byField[field] = nil }
    public mutating func clearAll() { byField = [:] }
}
