"""recodb's own state: settings store, model registry, generator ground truth.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import json

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DEFAULT_SETTINGS = {
    "interaction_weights": (
        {"view": 1, "click": 2, "like": 5, "comment": 8, "share": 10},
        "Confidence each interaction type adds in training (the seed's weights)",
    ),
    "blend_weights": (
        {"collaborative": 0.7, "content": 0.2, "recency": 0.1},
        "Weights of the score parts in recommend() (the seed's blend)",
    ),
    "recency_half_life_hours": (
        48,
        "Age in hours at which a post's recency part has halved",
    ),
}


def upgrade() -> None:
    op.execute(
        """
        create table recodb.setting (
            key text primary key,
            value jsonb not null,
            description text not null,
            updated_at timestamptz not null default now()
        );
        comment on table recodb.setting is
            'Tunable behaviour as data; values are validated by recodb.setting_validate()';

        create table recodb.model (
            version integer generated always as identity primary key,
            algorithm text not null,
            params jsonb not null default '{}',
            status text not null default 'training'
                check (status in ('training', 'ready', 'active', 'retired', 'failed')),
            trained_from timestamptz,
            trained_to timestamptz,
            n_users integer,
            n_posts integer,
            n_interactions bigint,
            metrics jsonb not null default '{}',
            timings jsonb not null default '{}',
            error text,
            created_at timestamptz not null default now(),
            activated_at timestamptz
        );
        create unique index model_single_active on recodb.model ((true)) where status = 'active';
        comment on table recodb.model is
            'Model registry: one row per trained version; at most one is active';

        create table recodb.synthetic_dataset (
            id boolean primary key default true check (id),
            params jsonb not null,
            topics text[] not null,
            generated_at timestamptz not null
        );
        create table recodb.synthetic_user (
            user_id uuid primary key references users (id) on delete cascade,
            topic_weights real[] not null,
            activity real not null
        );
        create table recodb.synthetic_post (
            post_id uuid primary key references posts (id) on delete cascade,
            topic smallint not null,
            quality real not null
        );
        comment on table recodb.synthetic_dataset is
            'Ground truth of generated data (recodb generate/seed), for the evaluation oracle';
        """
    )
    conn = op.get_bind().connection.driver_connection
    for key, (value, description) in DEFAULT_SETTINGS.items():
        conn.execute(
            "insert into recodb.setting (key, value, description) values (%s, %s, %s)",
            (key, json.dumps(value), description),
        )


def downgrade() -> None:
    op.execute(
        """
        drop table recodb.synthetic_post;
        drop table recodb.synthetic_user;
        drop table recodb.synthetic_dataset;
        drop table recodb.model;
        drop table recodb.setting;
        """
    )
