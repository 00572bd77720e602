// The one way the view models reach the core. Every call runs on the injected IO dispatcher
// (the core's calls are synchronous and write with fsync), and every failure comes back as an
// `Outcome.Failed` with a mapped `UiError` instead of an exception. The store is opened once,
// on first use, by the `StoreOpener` (with the key provider's key) and shared by every screen.
//
// Nothing saved lives only here: this class holds the open store and the running sync's
// progress, never a record.
package org.gridwalk.android.presentation

import java.io.File
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import kotlinx.coroutines.withContext
import org.gridwalk.core.Case
import org.gridwalk.core.GridwalkStore
import org.gridwalk.core.VerificationVerdict

class GridwalkRepository(
    private val opener: StoreOpener,
    private val io: CoroutineDispatcher,
) {
    private val openLock = Mutex()
    @Volatile private var store: GridwalkStore? = null

    /** The open store, opening it on first use (on the IO dispatcher). */
    private suspend fun opened(): GridwalkStore =
        store ?: openLock.withLock { store ?: opener.open().also { store = it } }

    /** Runs [block] against the store on the IO dispatcher. */
    suspend fun <T> call(block: (GridwalkStore) -> T): Outcome<T> = withContext(io) {
        try {
            Outcome.Ok(block(opened()))
        } catch (e: CancellationException) {
            throw e
        } catch (e: Throwable) {
            Outcome.Failed(ErrorMapping.map(e))
        }
    }

    /** Verifies a case on site with after-photos the camera wrote to app-private files (read
     *  here, on the IO dispatcher, and handed to the core's photo pipeline). */
    suspend fun verifyCase(
        caseId: String,
        verdict: VerificationVerdict,
        note: String?,
        afterPhotoPaths: List<String>,
    ): Outcome<Case> = call { store ->
        val photos = afterPhotoPaths.map { File(it).readBytes() }
        store.verifyCase(caseId, verdict, note, photos)
    }

    /** Closes the store (the application is going away or the account is switching). */
    suspend fun close() = withContext(io) {
        openLock.withLock {
            store?.closeStore()
            store?.close()
            store = null
        }
    }
}
