// Sign-in: server address, user name, password, one big button.
package org.gridwalk.android.ui

import androidx.compose.runtime.Composable
import org.gridwalk.android.presentation.SignInEvent
import org.gridwalk.android.presentation.SignInState

@Composable
fun SignInScreen(state: SignInState, onEvent: (SignInEvent) -> Unit) {
    val s = LocalStrings.current
    ScreenFrame(s[Str.sign_in_title]) {
        ErrorBanner(state.error)
        Field(s[Str.sign_in_server], state.serverUrl, { onEvent(SignInEvent.ServerChanged(it)) }, state.fieldErrors["server_url"])
        Field(s[Str.sign_in_username], state.username, { onEvent(SignInEvent.UsernameChanged(it)) }, state.fieldErrors["username"])
        Field(
            s[Str.sign_in_password], state.password, { onEvent(SignInEvent.PasswordChanged(it)) },
            state.fieldErrors["password"], secret = true,
        )
        BigButton(if (state.busy) s[Str.sign_in_busy] else s[Str.sign_in_button], { onEvent(SignInEvent.SignIn) }, enabled = !state.busy)
    }
}
