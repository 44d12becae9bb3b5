#!/usr/bin/env bash
# Deploy release 2 of the example shop with zero downtime, on a fresh database.
#
#   bash example/deploy.sh
#
# PYTHON names the interpreter (default: python), which needs Django; the
# syzygy of this checkout is used. EXAMPLE_DATABASE names the SQLite file
# (default: example/db.sqlite3); it is removed first.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repository="$(dirname "$here")"
python="${PYTHON:-python}"
export EXAMPLE_DATABASE="${EXAMPLE_DATABASE:-$here/db.sqlite3}"
# The example's settings, whatever the environment holds.
export DJANGO_SETTINGS_MODULE=shop.settings
# The syzygy of this checkout, even if another version is installed.
export PYTHONPATH="$repository${PYTHONPATH:+:$PYTHONPATH}"

# Run $SQL, if any, then print the columns and rows of the product table.
readonly query='
import os
from django.db import connection

with connection.cursor() as cursor:
    if os.environ.get("SQL"):
        cursor.execute(os.environ["SQL"])
        print("    -> OK, row inserted")
    cursor.execute("PRAGMA table_info(catalog_product)")
    columns = []
    for _, name, type_, notnull, default, _ in cursor.fetchall():
        null = "NOT NULL" if notnull else "NULL"
        column = f"{name} {type_} {null}"
        columns.append(column if default is None else f"{column} DEFAULT {default}")
    print("    catalog_product:", " | ".join(columns))
    cursor.execute("SELECT * FROM catalog_product ORDER BY id")
    for row in cursor.fetchall():
        print("     ", " | ".join(str(value) for value in row))
'

# Save a product through the ORM, as the code of release 2 does.
readonly save_product='
import os

from catalog.models import Product

product = Product.objects.create(name=os.environ["NAME"], price="40.00")
print(f"    -> OK, saved {product}")
'

step() {
    printf '\n===== %s\n' "$*"
}

manage() {
    printf '$ manage.py %s\n' "$*"
    "$python" "$here/manage.py" "$@"
}

shell() {
    "$python" "$here/manage.py" shell --no-imports -c "$1"
}

# Send an INSERT as the code of a release would, and show the table.
insert_as() {
    printf 'Release %s inserts: %s\n' "$1" "$2"
    SQL="$2" shell "$query"
}

save_as_release_2() {
    printf 'Release 2 saves: Product.objects.create(name="%s", price="40.00")\n' "$1"
    NAME="$1" shell "$save_product"
    shell "$query"
}

rm -f "$EXAMPLE_DATABASE"
printf 'Database: %s\n' "$EXAMPLE_DATABASE"

step "0. Release 1 is running: set up its database"
# On a database where no migration was ever recorded, migrate --pre-deploy
# would apply the whole plan, as no deployed code needs protecting. Migrate
# to release 1's last migration instead, to start where production is.
echo "The database is new: migrate it to release 1's last migration."
manage migrate catalog 0001
insert_as 1 "INSERT INTO catalog_product (name, price, legacy_code) VALUES ('Teapot', 25, 'TP-1')"

step "1. Pre-deploy: apply the migrations release 2 needs and release 1 tolerates"
manage migrate --pre-deploy --plan
manage migrate --pre-deploy
echo "Release 1 is still running, and its INSERT still works:"
insert_as 1 "INSERT INTO catalog_product (name, price, legacy_code) VALUES ('Mug', 8, 'MG-2')"

step "2. Roll out release 2 (example/catalog/models.py)"
echo "Both releases run during the roll-out; release 2 no longer writes legacy_code:"
save_as_release_2 Kettle

step "3. Post-deploy: apply the migrations that waited for release 1 to stop"
manage migrate --plan
manage migrate
manage showmigrations catalog
save_as_release_2 Tray

step "Deploy done"
