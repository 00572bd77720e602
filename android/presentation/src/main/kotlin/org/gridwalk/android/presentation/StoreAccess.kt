// Opening the worker's store: once per process, with the database key from an injected key
// provider (on Android: generated once and kept wrapped by an Android Keystore key), so this
// module never knows where keys live. A key provider that returns null opens an unencrypted
// store (a library built without SQLCipher, or a test).
package org.gridwalk.android.presentation

import org.gridwalk.core.GridwalkStore

/** Supplies the store's database key. Called once, off the main thread. */
fun interface KeyProvider {
    /** The key for the store's keyed open, or null for an unencrypted store. */
    fun databaseKey(): String?
}

/** Opens the store at [path] with the key of [keys]. */
class StoreOpener(private val path: String, private val keys: KeyProvider) {
    fun open(): GridwalkStore {
        val key = keys.databaseKey()
        return if (key == null) GridwalkStore.open(path) else GridwalkStore.openWithKey(path, key)
    }
}
