// Sign-in: server address, user name and password; the session the core keeps in the store
// decides whether the worker is signed in (a rebuilt screen finds it there). The password is
// never put in saved state.
package org.gridwalk.android.presentation

import kotlinx.coroutines.CoroutineScope

data class SignInState(
    val serverUrl: String = "",
    val username: String = "",
    val password: String = "",
    val busy: Boolean = false,
    /** Errors by field (`server_url`, `username`, `password`) or `null` key for the form. */
    val fieldErrors: Map<String, UiError> = emptyMap(),
    val error: UiError? = null,
    /** Who is signed in, once the core has a session. */
    val signedInAs: String? = null,
    val navigateTo: Destination? = null,
)

sealed interface SignInEvent {
    data class ServerChanged(val text: String) : SignInEvent
    data class UsernameChanged(val text: String) : SignInEvent
    data class PasswordChanged(val text: String) : SignInEvent
    data object SignIn : SignInEvent
    data object NavigationDone : SignInEvent
}

class SignInViewModel(
    private val repo: GridwalkRepository,
    private val saved: SavedState,
    scope: CoroutineScope,
    private val deviceName: String? = null,
) : ScreenModel<SignInState, SignInEvent>(
    SignInState(serverUrl = saved[KEY_SERVER] ?: "", username = saved[KEY_USER] ?: ""),
    scope,
) {
    init {
        launch {
            repo.call { it.session() }.onOk { s ->
                if (s != null) update { it.copy(signedInAs = s.displayName, navigateTo = Destination.Today) }
            }
        }
    }

    override fun onEvent(event: SignInEvent) {
        when (event) {
            is SignInEvent.ServerChanged -> {
                saved[KEY_SERVER] = event.text
                update { it.copy(serverUrl = event.text, fieldErrors = it.fieldErrors - "server_url") }
            }
            is SignInEvent.UsernameChanged -> {
                saved[KEY_USER] = event.text
                update { it.copy(username = event.text, fieldErrors = it.fieldErrors - "username") }
            }
            is SignInEvent.PasswordChanged ->
                update { it.copy(password = event.text, fieldErrors = it.fieldErrors - "password") }
            SignInEvent.SignIn -> signIn()
            SignInEvent.NavigationDone -> update { it.copy(navigateTo = null) }
        }
    }

    private fun signIn() {
        val s = state.value
        if (s.busy) return
        val missing = buildMap {
            if (s.serverUrl.isBlank()) put("server_url", required())
            if (s.username.isBlank()) put("username", required())
            if (s.password.isEmpty()) put("password", required())
        }
        if (missing.isNotEmpty()) {
            update { it.copy(fieldErrors = missing) }
            return
        }
        update { it.copy(busy = true, error = null, fieldErrors = emptyMap()) }
        launch {
            repo.call { it.login(s.serverUrl.trim(), s.username.trim(), s.password, deviceName) }
                .onOk { session ->
                    update {
                        it.copy(busy = false, password = "", signedInAs = session.displayName,
                            navigateTo = Destination.Today)
                    }
                }
                .onFailed { e ->
                    update {
                        when {
                            e.field != null -> it.copy(busy = false, fieldErrors = mapOf(e.field to e))
                            // Wrong user name or password: shown under the password field.
                            e.code == "bad_credentials" ->
                                it.copy(busy = false, password = "", fieldErrors = mapOf("password" to e))
                            else -> it.copy(busy = false, error = e)
                        }
                    }
                }
        }
    }

    private fun required() = UiError(ErrorKind.FIELD, Bilingual("必填", "required"), "required")

    companion object {
        const val KEY_SERVER = "sign_in.server"
        const val KEY_USER = "sign_in.user"
    }
}
