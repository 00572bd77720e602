// The calls the app's forms and sync screen make besides saving: an ID number checked as it is
// typed (gender and birth date read from it) and the time of the last complete sync.
package org.gridwalk.core.tests

import java.io.File
import java.nio.file.Files
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import org.gridwalk.core.*
import org.junit.jupiter.api.Test

class FormSupportTest {
    @Test
    fun `an ID number is checked as typed and fills gender and birth date`() {
        val store = GridwalkStore.openInMemory()
        val info = store.checkIdNumber(" 64032319820315124x ".replace("x", "4"))
        assertEquals(ID_SPOUSE, info.idNumber)
        assertEquals(Gender.FEMALE, info.gender)
        assertEquals("1982-03-15", info.birthDate)
        val bad = assertFailsWith<GridwalkException.Validation> { store.checkIdNumber(ID_BAD_CHECKSUM) }
        assertEquals("id_number", bad.field)
        assertEquals(ValidationCode.INVALID_CHECKSUM, bad.code)
        assertEquals("身份证号校验位错误", bad.messageZh)
        val short = assertFailsWith<GridwalkException.Validation> { store.checkIdNumber("64032319") }
        assertEquals(ValidationCode.INVALID_FORMAT, short.code)
        store.closeStore()
    }

    @Test
    fun `the last sync time is kept in the store`() {
        val serverUrl = assertNotNull(System.getenv("GRIDWALK_SERVER_URL"), "run through scripts/test-bindings.sh")
        val dir = Files.createTempDirectory("gridwalk-kt-last-sync").toFile()
        try {
            val path = File(dir, "phone.db").path
            val phone = GridwalkStore.open(path)
            assertNull(phone.lastSyncMs())
            phone.login(serverUrl, DEMO_USER, DEMO_PASSWORD)
            val before = System.currentTimeMillis()
            phone.sync()
            val at = assertNotNull(phone.lastSyncMs())
            assertTrue(at >= before - 1_000, "last sync $at, started $before")
            phone.closeStore()
            // Reopened (the app was killed): still there.
            val again = GridwalkStore.open(path)
            assertEquals(at, again.lastSyncMs())
            again.closeStore()
        } finally {
            dir.deleteRecursively()
        }
    }
}
