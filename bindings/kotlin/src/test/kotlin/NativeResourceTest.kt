// The jar must carry the native library where JNA looks for it on the class
// path, so that a project depending on dev.itc:itc-kotlin needs nothing else
// (bindings/kotlin-consumer checks that from the installed jar).

import com.sun.jna.Platform
import kotlin.test.Test
import kotlin.test.assertNotNull
import kotlin.test.assertTrue

class NativeResourceTest {
    @Test
    fun nativeLibraryIsPackagedUnderJnasPlatformPrefix() {
        val resource = "/${Platform.RESOURCE_PREFIX}/${System.mapLibraryName("itc_ffi")}"
        val url = assertNotNull(
            NativeResourceTest::class.java.getResource(resource),
            "$resource is not on the class path: build itc-ffi first or set -Ditc.native.dir",
        )
        val size = url.openStream().use { it.readBytes().size }
        assertTrue(size > 100_000, "$resource is only $size bytes")
    }
}
