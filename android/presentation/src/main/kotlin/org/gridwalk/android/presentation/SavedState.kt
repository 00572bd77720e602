// What a view model keeps across process death: small values (ids, the text of a form being
// typed, the chosen tab) in a string map the platform saves with the screen (Android's
// SavedStateHandle through an adapter in app/). What the worker saved is never only here: it
// is in the store, and a rebuilt view model reads it back from there.
package org.gridwalk.android.presentation

/** A screen's saved-state map. Values are strings (or absent) so every platform can keep them. */
interface SavedState {
    operator fun get(key: String): String?
    operator fun set(key: String, value: String?)
}

/** A plain map: tests rebuild view models from it to play a process death. */
class MapSavedState(initial: Map<String, String> = emptyMap()) : SavedState {
    private val values = java.util.concurrent.ConcurrentHashMap(initial)
    override fun get(key: String): String? = values[key]
    override fun set(key: String, value: String?) {
        if (value == null) values.remove(key) else values[key] = value
    }
    /** A copy, as the platform would hand it to the next process. */
    fun snapshot(): Map<String, String> = HashMap(values)
}
