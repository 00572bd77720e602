// How a failed core call reaches a screen: every `GridwalkException` variant becomes a `UiError`
// with what the screen does about it (`kind`), the form field it belongs to (if any), a stable
// code and the core's bilingual message. One mapping, so every screen reacts the same way.
package org.gridwalk.android.presentation

import java.io.IOException
import org.gridwalk.core.GridwalkException

/** A text the core gives in both languages; the screen picks one by the phone's locale. */
data class Bilingual(val zh: String, val en: String) {
    fun pick(languageTag: String): String = if (languageTag.startsWith("zh")) zh else en
}

/** What a screen does about an error. */
enum class ErrorKind {
    /** A value was refused: show the message under `field`; the rest of the form stays. */
    FIELD,
    /** The record is not on this phone (any more). */
    NOT_FOUND,
    /** The record's state does not allow this now (a submitted case, a running patrol). */
    NOT_ALLOWED_NOW,
    /** Sign in again; nothing on the phone was lost. */
    SIGN_IN_AGAIN,
    /** No signal or the server is busy: try later (sync retries by itself). */
    OFFLINE,
    /** The server refused the request as a whole. */
    SERVER_REFUSED,
    /** The worker (or the system) cancelled; what finished is kept. */
    CANCELLED,
    /** The data was written by a newer app: upgrade. */
    UPGRADE_APP,
    /** The store file was damaged and moved aside (never deleted). */
    STORE_MOVED_ASIDE,
    /** The file is not a Gridwalk store (left untouched). */
    NOT_A_STORE,
    /** The store can only be read. */
    READ_ONLY,
    /** Another writer holds the store: try again in a moment. */
    BUSY,
    /** Encryption is unavailable or the key does not open the store. */
    WRONG_KEY,
    /** A file handed in (photo, GPX) could not be read. */
    BAD_FILE,
    /** The store was closed (the app is shutting down or switching accounts). */
    CLOSED,
    /** Reading or writing the phone's storage failed (disk full). */
    STORAGE,
    /** The app's own code failed (a bug): details are for the log, not the worker. */
    APP_FAILURE,
}

/** A failure as a screen shows it. `code` is machine-readable (a validation code, an auth
 *  code such as `bad_credentials`, a network code). Never contains a typed value. */
data class UiError(
    val kind: ErrorKind,
    val message: Bilingual,
    val code: String,
    val field: String? = null,
    val retryable: Boolean = false,
)

/** The result of a repository call. */
sealed interface Outcome<out T> {
    data class Ok<T>(val value: T) : Outcome<T>
    data class Failed(val error: UiError) : Outcome<Nothing>
}

inline fun <T> Outcome<T>.onOk(f: (T) -> Unit): Outcome<T> {
    if (this is Outcome.Ok) f(value)
    return this
}

inline fun <T> Outcome<T>.onFailed(f: (UiError) -> Unit): Outcome<T> {
    if (this is Outcome.Failed) f(error)
    return this
}

fun <T> Outcome<T>.valueOrNull(): T? = (this as? Outcome.Ok)?.value

object ErrorMapping {
    /** Maps anything a core call (or reading a photo file for it) can throw. Coroutine
     *  cancellation is not an error: callers rethrow it before calling this. */
    fun map(t: Throwable): UiError = when (t) {
        is GridwalkException -> fromCore(t)
        is IOException -> UiError(
            ErrorKind.STORAGE, Bilingual("无法读取文件", "the file could not be read"), "io",
        )
        else -> UiError(
            ErrorKind.APP_FAILURE, Bilingual("应用内部错误，请重试或联系管理员", "the app failed; try again"),
            "app_failure",
        )
    }

    fun fromCore(e: GridwalkException): UiError = when (e) {
        is GridwalkException.Validation -> UiError(
            ErrorKind.FIELD, Bilingual(e.messageZh, e.messageEn), e.code.code(), field = e.field,
        )
        is GridwalkException.NotFound -> UiError(
            ErrorKind.NOT_FOUND, Bilingual(e.messageZh, e.messageEn), "not_found",
        )
        is GridwalkException.InvalidState -> UiError(
            ErrorKind.NOT_ALLOWED_NOW, Bilingual(e.messageZh, e.messageEn), "${e.state}:${e.action}",
        )
        is GridwalkException.Auth -> UiError(
            ErrorKind.SIGN_IN_AGAIN, Bilingual(e.messageZh, e.messageEn), e.code,
        )
        is GridwalkException.Network -> UiError(
            if (e.retryable) ErrorKind.OFFLINE else ErrorKind.SERVER_REFUSED,
            Bilingual(e.messageZh, e.messageEn), e.code, retryable = e.retryable,
        )
        is GridwalkException.Cancelled -> UiError(
            ErrorKind.CANCELLED, Bilingual(e.messageZh, e.messageEn), "cancelled",
        )
        is GridwalkException.SchemaTooNew -> UiError(
            ErrorKind.UPGRADE_APP, Bilingual(e.messageZh, e.messageEn), "schema_too_new",
        )
        is GridwalkException.Corrupt -> UiError(
            ErrorKind.STORE_MOVED_ASIDE, Bilingual(e.messageZh, e.messageEn), "corrupt",
        )
        is GridwalkException.NotAStore -> UiError(
            ErrorKind.NOT_A_STORE, Bilingual(e.messageZh, e.messageEn), e.reason,
        )
        is GridwalkException.ReadOnly -> UiError(
            ErrorKind.READ_ONLY, Bilingual(e.messageZh, e.messageEn),
            if (e.needsUpgrade) "needs_upgrade" else "read_only",
        )
        is GridwalkException.Busy -> UiError(
            ErrorKind.BUSY, Bilingual(e.messageZh, e.messageEn), "busy", retryable = true,
        )
        is GridwalkException.Encryption -> UiError(
            ErrorKind.WRONG_KEY, Bilingual(e.messageZh, e.messageEn), "encryption",
        )
        is GridwalkException.Format -> UiError(
            ErrorKind.BAD_FILE, Bilingual(e.messageZh, e.messageEn), e.what,
        )
        is GridwalkException.Platform -> UiError(
            ErrorKind.APP_FAILURE, Bilingual(e.messageZh, e.messageEn), "platform",
        )
        is GridwalkException.Closed -> UiError(
            ErrorKind.CLOSED, Bilingual(e.messageZh, e.messageEn), "closed",
        )
        is GridwalkException.Storage -> UiError(
            ErrorKind.STORAGE, Bilingual(e.messageZh, e.messageEn), "storage",
        )
    }
}
