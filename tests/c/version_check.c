/* Links the static library and checks that the header and the library agree on the version.
 * Built by .ci/run as C99 and as C++17, with warnings as errors. */
#include "o2okit.h"

#include <stdio.h>
#include <string.h>

int main(void) {
    const char *version = o2o_version();
    if (version == NULL || strcmp(version, O2OKIT_VERSION) != 0) {
        fprintf(stderr, "header says %s, library says %s\n", O2OKIT_VERSION,
                version ? version : "(null)");
        return 1;
    }
    printf("o2okit %s (header %d.%d.%d)\n", version, O2OKIT_VERSION_MAJOR, O2OKIT_VERSION_MINOR,
           O2OKIT_VERSION_PATCH);
    return 0;
}
