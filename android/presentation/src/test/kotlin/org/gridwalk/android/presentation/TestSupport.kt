// What the presentation tests share: a store in a temporary folder opened through the real
// repository (IO dispatcher, key provider), the demo server's address, camera-like JPEG files,
// valid ID numbers made fresh for each run, and the grid leader's side of the case loop through
// the server's HTTP API.
package org.gridwalk.android.presentation

import java.awt.image.BufferedImage
import java.io.ByteArrayOutputStream
import java.io.File
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.util.UUID
import javax.imageio.ImageIO
import kotlin.random.Random
import kotlin.test.assertEquals
import kotlin.test.assertNotNull
import kotlin.test.fail
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull

const val GRID = "640323001001001"
const val COMMUNITY = "640323001001"
const val WORKER = "wangfang"
const val LEADER = "zhaomin"
const val DEMO_PASSWORD = "demo-pass"

fun serverUrl(): String = assertNotNull(
    System.getenv("GRIDWALK_SERVER_URL"),
    "GRIDWALK_SERVER_URL is not set: run through scripts/test-android.sh",
)

/** The database key the tests' stores are encrypted with (the app's comes from the Keystore). */
const val TEST_KEY = "5f0c2a9e7d1b4c3a8e6f0d2b9a7c5e3f1b8d6a4c2e0f9b7d5a3c1e8f6b4d2a0c"

/** A repository over an encrypted store file in [dir], as the app's container makes it. */
fun repositoryIn(dir: File, keys: KeyProvider = KeyProvider { TEST_KEY }): GridwalkRepository =
    GridwalkRepository(StoreOpener(File(dir, "work.db").path, keys), Dispatchers.IO)

/** Waits (in real time: the core works on real threads) for a state matching [pred]; fails
 *  with the last state seen after 60 s. */
suspend fun <S> ScreenModel<S, *>.awaitState(what: String = "state", pred: (S) -> Boolean): S =
    withContext(Dispatchers.Default) {
        withTimeoutOrNull(60_000) { state.first(pred) }
    } ?: fail("$what never came; last state: ${state.value}")

fun <T> Outcome<T>.ok(): T = when (this) {
    is Outcome.Ok -> value
    is Outcome.Failed -> fail("expected success, got $error")
}

/** A JPEG the way a camera app leaves one in app-private storage. */
fun cameraFile(dir: File, name: String, seed: Int = 1): File {
    val img = BufferedImage(96, 72, BufferedImage.TYPE_INT_RGB)
    for (x in 0 until 96) for (y in 0 until 72) img.setRGB(x, y, ((x * seed) % 256 shl 16) or (y * 3 shl 8) or seed)
    val bytes = ByteArrayOutputStream().also { ImageIO.write(img, "jpg", it) }.toByteArray()
    return File(dir, name).also { it.writeBytes(bytes) }
}

/** Valid GB 11643 numbers of region 640323, new for each call (the server keeps them unique). */
object IdNumbers {
    private val weights = intArrayOf(7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    private const val checks = "10X98765432"

    fun valid(birth: String, male: Boolean, random: Random = Random.Default): String {
        val seq = random.nextInt(0, 50) * 2 + (if (male) 1 else 0)
        val first17 = "640323" + birth.replace("-", "") + "%03d".format(random.nextInt(0, 5) * 100 + seq)
        return first17 + checkChar(first17)
    }

    fun checkChar(first17: String): Char =
        checks[first17.mapIndexed { i, c -> (c - '0') * weights[i] }.sum() % 11]

    /** The same number with a wrong check character. */
    fun withWrongCheck(id: String): String {
        val right = id.last()
        val wrong = checks.first { it != right && it != 'X' }
        return id.dropLast(1) + wrong
    }
}

/** The grid leader at the server's HTTP API (what the web console does). */
class Leader(private val base: String) {
    private val http = HttpClient.newHttpClient()
    private val token: String

    init {
        val body = """{"username":"$LEADER","password":"$DEMO_PASSWORD","device_id":"console-${UUID.randomUUID()}"}"""
        val answer = post("/v1/auth/login", body, auth = false)
        token = assertNotNull(Regex("\"access_token\"\\s*:\\s*\"([^\"]+)\"").find(answer)?.groupValues?.get(1), answer)
    }

    /** `accept` → `dispatch` → `handle` → `request_verification`: the case comes back to the
     *  worker for verification on site. */
    fun sendForVerification(caseId: String) {
        action(caseId, """{"action":"accept"}""")
        action(caseId, """{"action":"dispatch","assignee":"城管中队"}""")
        action(caseId, """{"action":"handle"}""")
        action(caseId, """{"action":"request_verification"}""")
    }

    fun caseStatus(caseId: String): String {
        val req = HttpRequest.newBuilder(URI("$base/v1/cases/$caseId"))
            .header("x-gridwalk-protocol", "1").header("authorization", "Bearer $token").GET().build()
        val res = http.send(req, HttpResponse.BodyHandlers.ofString())
        assertEquals(200, res.statusCode(), res.body())
        return assertNotNull(Regex("\"status\"\\s*:\\s*\"([a-z_]+)\"").find(res.body())?.groupValues?.get(1), res.body())
    }

    private fun action(caseId: String, body: String) {
        post("/v1/cases/$caseId/actions", body, auth = true)
    }

    private fun post(path: String, body: String, auth: Boolean): String {
        val b = HttpRequest.newBuilder(URI("$base$path"))
            .header("x-gridwalk-protocol", "1").header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
        if (auth) b.header("authorization", "Bearer $token")
        val res = http.send(b.build(), HttpResponse.BodyHandlers.ofString())
        assertEquals(200, res.statusCode(), "$path: ${res.body()}")
        return res.body()
    }
}

/** Blocks this coroutine's thread-free wait for a platform thread (a GPS feed) to finish. */
suspend fun awaitThread(t: Thread?) = withContext(Dispatchers.IO) { t?.join(20_000) }
